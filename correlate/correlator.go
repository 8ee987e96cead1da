package correlate

import (
	"fmt"
	"time"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/correlate/wire"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// Sink receives the correlator's output as it becomes final.
type Sink interface {
	Request(*Request)
	Step(*Step)
	// CUDAError is a driver call that returned an error, attributed to its unit.
	CUDAError(unit string, e gpustep.Error)
	// Stall is a wait that was in flight past the stall threshold and has now returned.
	Stall(unit string, s gpustep.Stall)
}

// Options tune a Correlator. The zero value takes the defaults.
type Options struct {
	GPU  gpustep.Config
	Wire wire.Config // its Hooks are the correlator's own
	// Join tunes the tensor-parallel join; its Unit is the correlator's own.
	Join gpustep.JoinConfig
	// Settle is how long (in stream time) after a request ends it is finalized, so that
	// every step before it has been joined (default 500 ms, more than Join.Grace).
	Settle time.Duration
	// ChunkedPrefill: the engine splits long prompts over several steps (vLLM V1 always
	// does; --enable-chunked-prefill elsewhere), so a request's prefill starts in an
	// earlier step than the one of its first token: where first-come-first-served
	// scheduling put its first chunk (chunked.go). Requests are then finalized in the
	// engine's order. Without it a prefill is the one step that produced the first token.
	ChunkedPrefill bool
	// MaxNumBatchedTokens is the engine's token budget per step (vLLM's
	// --max-num-batched-tokens), when known: with ChunkedPrefill, placements are checked
	// against the prompt lengths responses report in usage (0: unknown, not checked).
	MaxNumBatchedTokens int
	// MaxNumSeqs is the most requests the engine runs at once (vLLM's --max-num-seqs),
	// when known: with ChunkedPrefill, no prefill starts in a step that held that many
	// (0: the largest batch size once it has recurred, chunked.go).
	MaxNumSeqs int
	// OrderWait bounds, with ChunkedPrefill, how long after its end a request waits for
	// the requests that arrived before its first token to end (default 60 s); past it,
	// it is finalized with the decode counts known so far.
	OrderWait time.Duration
	// MaxHeldSteps bounds the steps a unit holds while long requests are open; past it
	// the oldest are emitted with the batch size counted so far (default 20000).
	MaxHeldSteps int
}

// Correlator turns a time-ordered event stream into requests, steps and gauges.
// It is not safe for concurrent use: one goroutine feeds it.
type Correlator struct {
	opt   Options
	sink  Sink
	units *Units
	wire  *wire.Tracker
	gpu   *gpustep.Tracker
	join  *gpustep.Joiner
	us    map[string]*unitState
	now   uint64
	tick  uint64
	// closing: Close is flushing what is in flight.
	closing bool
	seq     uint64
	stats   Stats
	exits   []Exit
}

// Stats counts what the correlator produced.
type Stats struct {
	Requests, Steps, Inner, Unattributed uint64
	// Unfinished counts requests still in flight when the stream ended (Close): they
	// have no end, so no record.
	Unfinished uint64
}

const tickNS = 50e6

// New returns a Correlator that sends its output to sink.
func New(opt Options, sink Sink) (*Correlator, error) {
	if opt.Settle == 0 {
		opt.Settle = 500 * time.Millisecond
	}
	if opt.MaxHeldSteps == 0 {
		opt.MaxHeldSteps = 20000
	}
	if opt.OrderWait == 0 {
		opt.OrderWait = time.Minute
	}
	if opt.MaxNumBatchedTokens < 0 || opt.MaxNumSeqs < 0 || opt.OrderWait < 0 {
		return nil, fmt.Errorf("correlate: negative max-num-batched-tokens %d, max-num-seqs %d or order wait %v",
			opt.MaxNumBatchedTokens, opt.MaxNumSeqs, opt.OrderWait)
	}
	c := &Correlator{opt: opt, sink: sink, units: NewUnits(), us: make(map[string]*unitState)}
	var err error
	if c.gpu, err = gpustep.New(opt.GPU, gpuSink{c}); err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	opt.Join.Unit = c.units.Unit
	if c.join, err = gpustep.NewJoiner(opt.Join); err != nil {
		return nil, fmt.Errorf("correlate: %w", err)
	}
	opt.Wire.Hooks = wire.Hooks{Arrived: c.arrived, FirstContent: c.firstContent, Content: c.content, Ended: c.ended}
	c.wire = wire.NewTracker(opt.Wire)
	return c, nil
}

// Units returns the process table, for naming units (read-only use).
func (c *Correlator) Units() *Units { return c.units }

// GPU returns the step tracker, for its per-process figures (read-only use).
func (c *Correlator) GPU() *gpustep.Tracker { return c.gpu }

// Now is the stream time: the latest event time seen.
func (c *Correlator) Now() uint64 { return c.now }

// Stats returns the counters so far.
func (c *Correlator) Stats() Stats { return c.stats }

// WireStats returns the connection tracker's counters.
func (c *Correlator) WireStats() wire.Stats { return c.wire.Stats() }

// Feed consumes one event. Events must come in time order (the ring buffer's order).
func (c *Correlator) Feed(e event.Event) {
	if ts := e.Hdr().TS; ts > c.now {
		c.now = ts
	}
	switch v := e.(type) {
	case *event.Proc:
		if v.Op == event.ProcExit { // while the process still names its unit
			c.noteExit(v)
			c.wire.ProcessGone(v.PID, v.TS)
		}
		c.units.Proc(v)
		c.gpu.Feed(v)
		if v.Op == event.ProcExit || v.Op == event.ProcExec {
			c.addUnitSteps(c.join.Flush(c.now))
			c.join.Forget(v.PID)
		}
	case *event.Sock:
		if v.Op == event.OpAccept && v.Ret >= 0 {
			c.units.Serving(v.PID)
		}
		c.wire.Feed(v)
	case *event.CUDA:
		c.gpu.Handle(v)
	}
	if c.now-c.tick >= tickNS {
		c.tick = c.now
		c.Advance(c.now)
	}
}

// Advance moves stream time to now (for a live feed that has gone quiet): idle
// connections and late unit steps are flushed and what has settled is finalized.
func (c *Correlator) Advance(now uint64) {
	if now > c.now {
		c.now = now
	}
	c.wire.Flush(c.now)
	c.addUnitSteps(c.join.Flush(c.now))
	for _, u := range c.us {
		c.finalize(u, false)
	}
}

// Close ends the stream: every open connection, step and request is finalized.
func (c *Correlator) Close() {
	c.closing = true
	c.wire.FlushAll()
	c.addUnitSteps(c.join.Close())
	for _, u := range c.us {
		c.finalize(u, true)
	}
}

type gpuSink struct{ c *Correlator }

func (g gpuSink) Step(s gpustep.Step) { g.c.addUnitSteps(g.c.join.Add(s)) }

func (g gpuSink) Error(e gpustep.Error) { g.c.sink.CUDAError(g.c.units.Unit(e.PID), e) }

func (g gpuSink) Stall(s gpustep.Stall) { g.c.sink.Stall(g.c.units.Unit(s.PID), s) }

func (c *Correlator) unit(name string) *unitState {
	u := c.us[name]
	if u == nil {
		u = newUnitState(name)
		c.us[name] = u
	}
	return u
}
