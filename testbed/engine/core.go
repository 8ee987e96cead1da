package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferprobe/inferprobe/testbed/cuda"
	"github.com/inferprobe/inferprobe/testbed/proto"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Core is a running engine core: the scheduler and the step loop on one locked OS
// thread, driving the GPU itself (Workers 1) or its worker processes.
type Core struct {
	cfg Config

	inMu     sync.Mutex
	inbox    []proto.Msg
	inNotify chan struct{}

	outMu     sync.Mutex
	outbox    []proto.Msg
	outClosed bool
	outNotify chan struct{}
	out       chan proto.Msg

	stop      chan struct{}
	stopOnce  sync.Once
	loopDone  chan struct{}
	loopErr   error
	stats     coreStats
	truthFile *truth.Writer
}

// coreStats are counters the loop keeps for Stats.
type coreStats struct {
	steps, tokens, failedSteps atomic.Uint64
	threadCPU                  atomic.Int64 // ns of CPU the step thread used since start-up
	gpuBusy                    atomic.Int64 // ns between step starts and ends
}

// Stats is a snapshot of what the core has done since it started serving.
type Stats struct {
	Steps       uint64        // steps run
	FailedSteps uint64        // steps whose GPU work returned an error
	Tokens      uint64        // tokens emitted
	ThreadCPU   time.Duration // CPU time of the step thread (scheduling, launches, waits' spin, emitting)
	StepTime    time.Duration // sum of step durations (first launch to wait return)
}

// Stats returns the core's counters.
func (c *Core) Stats() Stats {
	return Stats{
		Steps: c.stats.steps.Load(), FailedSteps: c.stats.failedSteps.Load(), Tokens: c.stats.tokens.Load(),
		ThreadCPU: time.Duration(c.stats.threadCPU.Load()), StepTime: time.Duration(c.stats.gpuBusy.Load()),
	}
}

// Start validates cfg, prepares the GPU (or starts the workers: driver, weights, KV
// cache, kernels, decode graphs) and starts serving. It returns once the engine is ready,
// or with what stopped it. The core stops when ctx ends or Close is called.
func Start(ctx context.Context, cfg Config) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:       cfg,
		inNotify:  make(chan struct{}, 1),
		outNotify: make(chan struct{}, 1),
		out:       make(chan proto.Msg, 256),
		stop:      make(chan struct{}),
		loopDone:  make(chan struct{}),
	}
	if cfg.TruthPath != "" {
		w, err := truth.Create(cfg.TruthPath)
		if err != nil {
			return nil, err
		}
		c.truthFile = w
	}
	ready := make(chan error, 1)
	go c.loop(ctx, ready)
	go c.forward()
	if err := <-ready; err != nil {
		<-c.loopDone
		_ = c.truthFile.Close()
		return nil, err
	}
	return c, nil
}

// Send hands the core a message (OpAdd or OpAbort). It never blocks; messages are taken
// at the next step boundary, in order.
func (c *Core) Send(m proto.Msg) {
	c.inMu.Lock()
	c.inbox = append(c.inbox, m)
	c.inMu.Unlock()
	select {
	case c.inNotify <- struct{}{}:
	default:
	}
}

// Out carries the core's messages (OpStep, OpReject, OpFail) in order; it is closed
// after the core stops and everything before was delivered.
func (c *Core) Out() <-chan proto.Msg { return c.out }

// Close stops the core after the step in flight, frees the GPU (or ends the workers)
// and returns what stopped the loop, if it was not Close.
func (c *Core) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.loopDone
	return c.loopErr
}

// Done is closed when the core's loop has stopped.
func (c *Core) Done() <-chan struct{} { return c.loopDone }

func (c *Core) emit(m proto.Msg) {
	c.outMu.Lock()
	c.outbox = append(c.outbox, m)
	c.outMu.Unlock()
	select {
	case c.outNotify <- struct{}{}:
	default:
	}
}

// forward moves emitted messages to Out, so the step loop never waits on a slow reader.
func (c *Core) forward() {
	defer close(c.out)
	var batch []proto.Msg
	for {
		c.outMu.Lock()
		batch, c.outbox = c.outbox, batch[:0]
		closed := c.outClosed
		c.outMu.Unlock()
		for i := range batch {
			c.out <- batch[i]
			batch[i] = proto.Msg{}
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-c.outNotify
		}
	}
}

func (c *Core) closeOut() {
	c.outMu.Lock()
	c.outClosed = true
	c.outMu.Unlock()
	select {
	case c.outNotify <- struct{}{}:
	default:
	}
}

// executor runs steps on the GPU(s).
type executor interface {
	step(s stepSpec) (stepResult, error)
	close()
}

// stepResult is when a step ran: on the one GPU, or earliest start and latest end over
// the workers, with each worker's own times.
type stepResult struct {
	startNS, endNS uint64
	pid, tid       int
	workers        []workerTiming
}

// loop is the engine: it owns the scheduler and the executor, on one OS thread for its
// whole life (inferprobe finds GPU steps per thread), so it never unlocks the thread.
func (c *Core) loop(ctx context.Context, ready chan<- error) {
	runtime.LockOSThread()
	defer close(c.loopDone)
	defer c.closeOut()
	sched, err := NewScheduler(c.cfg.SchedConfig)
	var ex executor
	if err == nil {
		ex, err = newExecutor(c.cfg)
	}
	ready <- err
	if err != nil {
		return
	}
	defer ex.close()
	defer func() { _ = c.truthFile.Close() }()
	l := &stepLoop{c: c, sched: sched, ex: ex, rng: rand.New(rand.NewPCG(uint64(c.cfg.Seed), 0x7e57bed))}
	c.loopErr = l.run(ctx)
}

// newExecutor opens the GPU on this thread, or starts the workers from it.
func newExecutor(cfg Config) (executor, error) {
	if cfg.Workers > 1 {
		return startWorkers(cfg)
	}
	g, err := openGPU(cfg, 1)
	if err != nil {
		return nil, fmt.Errorf("start gpu: %w", err)
	}
	return localExec{g}, nil
}

// localExec is the GPU driven by the core's own thread.
type localExec struct{ g *gpu }

func (e localExec) step(s stepSpec) (stepResult, error) {
	start, end, err := e.g.run(s)
	return stepResult{startNS: start, endNS: end, pid: e.g.pid, tid: e.g.tid}, err
}

func (e localExec) close() { e.g.close() }

// deadError says why the engine stopped serving: every later request fails with it.
type deadError struct{ cause error }

func (e deadError) Error() string { return "engine dead: " + e.cause.Error() }

// isFatal says whether a step error ends the engine: a sticky CUDA fault, or anything
// that is not a CUDA error (a worker gone), on any worker.
func isFatal(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if isFatal(e) {
				return true
			}
		}
		return false
	}
	var ce cuda.Error
	if errors.As(err, &ce) {
		return ce.Sticky()
	}
	return true
}
