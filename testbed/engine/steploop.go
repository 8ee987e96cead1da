package engine

import (
	"context"
	"errors"
	"math/rand/v2"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/testbed/cuda"
	"github.com/inferprobe/inferprobe/testbed/proto"
)

// stepLoop is the state of the core's loop.
type stepLoop struct {
	c     *Core
	sched *Scheduler
	ex    executor
	rng   *rand.Rand
	index uint64 // next step's index
	dead  error  // set after a fatal step error: every request fails with it
	msgs  []proto.Msg
	cpu0  int64
}

// run steps until ctx ends or the core is closed.
func (l *stepLoop) run(ctx context.Context) error {
	l.cpu0 = threadCPU()
	for {
		select {
		case <-l.c.stop:
			return nil
		case <-ctx.Done():
			return nil
		default:
		}
		l.takeInbox()
		if l.dead != nil || l.sched.Idle() {
			select {
			case <-l.c.inNotify:
			case <-l.c.stop:
				return nil
			case <-ctx.Done():
				return nil
			}
			continue
		}
		l.step()
		l.c.stats.threadCPU.Store(threadCPU() - l.cpu0)
	}
}

// takeInbox applies every message that arrived since the last step boundary.
func (l *stepLoop) takeInbox() {
	c := l.c
	c.inMu.Lock()
	l.msgs, c.inbox = c.inbox, l.msgs[:0]
	c.inMu.Unlock()
	for i := range l.msgs {
		l.handle(l.msgs[i])
		l.msgs[i] = proto.Msg{}
	}
}

func (l *stepLoop) handle(m proto.Msg) {
	switch m.Op {
	case proto.OpAdd:
		if m.Add == nil {
			return
		}
		if l.dead != nil {
			l.c.emit(proto.Msg{Op: proto.OpFail, ID: m.Add.ID, Status: 500, Error: l.dead.Error()})
			return
		}
		fault := l.c.cfg.FaultRate > 0 && l.rng.Float64() < l.c.cfg.FaultRate
		if status, msg := l.sched.Add(*m.Add, fault); status != 0 {
			l.c.emit(proto.Msg{Op: proto.OpReject, ID: m.Add.ID, Status: status, Error: msg})
		}
	case proto.OpAbort:
		l.sched.Abort(m.ID)
	}
}

// step schedules, runs and completes one step.
func (l *stepLoop) step() {
	p := l.sched.schedule(now())
	for _, r := range p.failed {
		l.c.emit(proto.Msg{Op: proto.OpFail, ID: r.id, Status: 500, Error: "injected fault: the request failed in the engine"})
	}
	if len(p.entries) == 0 {
		return
	}
	spec := stepSpec{Index: l.index, Prefill: p.prefillTokens > 0, Tokens: p.tokens(), Seqs: len(p.entries)}
	l.index++
	res, err := l.ex.step(spec)
	line := stepLine{
		Kind: "step", Index: spec.Index, StartNS: res.startNS, EndNS: res.endNS, StepKind: p.kind(),
		Tokens: spec.Tokens, PrefillTokens: p.prefillTokens, DecodeTokens: p.decodeTokens,
		PID: res.pid, TID: res.tid, Workers: res.workers,
	}
	if spec.Prefill {
		line.Launches = l.c.cfg.Layers * len(prefillKernels)
	} else {
		line.GraphLaunches = 1
	}
	l.c.stats.steps.Add(1)
	if res.endNS > res.startNS {
		l.c.stats.gpuBusy.Add(int64(res.endNS - res.startNS))
	}
	if err != nil {
		l.failStep(p, err, &line)
		return
	}
	toks := l.sched.complete(p, res.startNS, make([]proto.Token, 0, len(p.entries)))
	if len(toks) > 0 {
		l.c.emit(proto.Msg{Op: proto.OpStep, Step: &proto.Step{
			Index: spec.Index, StartNS: res.startNS, EndNS: res.endNS, Kind: line.StepKind, Tokens: toks,
		}})
	}
	l.c.stats.tokens.Add(uint64(len(toks)))
	line.Requests = make([]string, len(toks))
	for i, t := range toks {
		line.Requests[i] = t.ID
	}
	line.BatchSize = len(toks)
	l.writeTruth(&line)
}

// failStep fails the step's requests with 500; after a fatal error (a sticky fault) the
// engine is dead and fails everything else too, as a real one does until restarted.
func (l *stepLoop) failStep(p *plan, err error, line *stepLine) {
	l.c.stats.failedSteps.Add(1)
	var ce cuda.Error
	if errors.As(err, &ce) {
		line.Error = ce.Result
	} else {
		line.Error = -1
	}
	line.ErrorText = err.Error()
	line.Requests = []string{}
	l.writeTruth(line)
	msg := "CUDA error in the engine step: " + err.Error()
	for _, id := range l.sched.fail(p) {
		l.c.emit(proto.Msg{Op: proto.OpFail, ID: id, Status: 500, Error: msg})
	}
	if !isFatal(err) {
		return
	}
	l.dead = deadError{err}
	for _, id := range l.sched.failAll() {
		l.c.emit(proto.Msg{Op: proto.OpFail, ID: id, Status: 500, Error: l.dead.Error()})
	}
}

func (l *stepLoop) writeTruth(line *stepLine) {
	if l.c.truthFile == nil {
		return
	}
	// A truth file that cannot be written is the test's problem, not the engine's.
	_ = l.c.truthFile.Write(line)
}

// threadCPU is the calling thread's CPU time in ns.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
