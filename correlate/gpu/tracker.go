package gpustep

import (
	"errors"
	"fmt"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// ErrUnknownPID is returned for a process the Tracker holds no state for.
var ErrUnknownPID = errors.New("unknown pid")

// Tracker builds steps, errors, stalls and per-process figures from CUDA events. It is not
// safe for concurrent use: one goroutine feeds it the time-ordered stream and asks it
// for figures.
type Tracker struct {
	cfg     Config
	sink    Sink
	stallNS uint64
	threads map[uint64]*thread
	procs   map[uint32]*proc
	// the last thread looked up: consecutive events mostly come from one thread
	cacheKey uint64
	cacheT   *thread
	nextID   uint64
	stats    Stats
}

// Stats counts what the Tracker saw and what it had to drop.
type Stats struct {
	Events uint64 `json:"events"` // CUDA events handled
	Steps  uint64 `json:"steps"`
	Errors uint64 `json:"errors"`
	// LostReturns counts waits whose return never came: the thread was next seen doing
	// something else (a dropped record).
	LostReturns uint64 `json:"lost_returns"`
	// AbandonedSteps counts open steps dropped because their closing wait was lost, and
	// AbandonedLaunches the launches (kernel and graph) they held.
	AbandonedSteps    uint64 `json:"abandoned_steps"`
	AbandonedLaunches uint64 `json:"abandoned_launches"`
	Threads           int    `json:"threads"` // threads tracked now
	Procs             int    `json:"procs"`   // processes tracked now
}

// New returns a Tracker that sends what it finds to sink.
func New(cfg Config, sink Sink) (*Tracker, error) {
	if sink == nil {
		return nil, errors.New("new tracker: nil sink")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new tracker: %w", err)
	}
	return &Tracker{
		cfg:     c,
		sink:    sink,
		stallNS: uint64(c.StallAfter),
		threads: make(map[uint64]*thread),
		procs:   make(map[uint32]*proc),
	}, nil
}

// Feed handles one event of the stream: CUDA events go to Handle; a process's exec or
// exit forgets it (an exit whose TID is not the process's forgets that thread only);
// socket events are not this package's and are ignored.
func (tr *Tracker) Feed(ev event.Event) {
	switch v := ev.(type) {
	case *event.CUDA:
		tr.Handle(v)
	case *event.Proc:
		switch v.Op {
		case event.ProcExec:
			tr.Forget(v.PID)
		case event.ProcExit: // the whole process (event.ProcExit)
			tr.Forget(v.PID)
		}
	}
}

// Handle handles one CUDA event. Events must come in stream order (by TS).
func (tr *Tracker) Handle(e *event.CUDA) {
	tr.stats.Events++
	th := tr.thread(e.PID, e.TID)
	c := e.Call
	isWait := c.IsWait()
	if th.inflight && !(isWait && e.Return) {
		tr.lostReturn(th)
	}
	switch {
	case isWait:
		if e.Return {
			tr.waitReturn(th, e)
			return // its error, if any, is handled there
		}
		th.inflight, th.wCall, th.wStart = true, c, e.Start
		if th.wStart == 0 {
			th.wStart = e.TS
		}
	case c.IsLaunch():
		if !e.Return {
			tr.launch(th, e)
		}
	case e.Return:
		tr.other(th, e)
	}
	if e.Return && IsError(e.Result) {
		var id uint64
		if th.open {
			id = th.id
			th.errors++
		}
		tr.emitError(th, e, id)
	}
}

// Forget drops every state of a process (it exited or exec'd): its threads, open steps,
// waits in flight, memory and counters.
func (tr *Tracker) Forget(pid uint32) {
	delete(tr.procs, pid)
	for k, th := range tr.threads {
		if th.pid == pid {
			delete(tr.threads, k)
		}
	}
	tr.cacheT = nil
}

// Stats returns the Tracker's counters.
func (tr *Tracker) Stats() Stats {
	s := tr.stats
	s.Threads, s.Procs = len(tr.threads), len(tr.procs)
	return s
}

// PIDs returns the processes the Tracker holds state for, in no particular order.
func (tr *Tracker) PIDs() []uint32 {
	out := make([]uint32, 0, len(tr.procs))
	for pid := range tr.procs {
		out = append(out, pid)
	}
	return out
}

func threadKey(pid, tid uint32) uint64 { return uint64(pid)<<32 | uint64(tid) }

func (tr *Tracker) thread(pid, tid uint32) *thread {
	key := threadKey(pid, tid)
	if tr.cacheT != nil && tr.cacheKey == key {
		return tr.cacheT
	}
	th := tr.threads[key]
	if th == nil {
		th = &thread{pid: pid, tid: tid, proc: tr.proc(pid)}
		tr.threads[key] = th
	}
	tr.cacheKey, tr.cacheT = key, th
	return th
}

func (tr *Tracker) proc(pid uint32) *proc {
	p := tr.procs[pid]
	if p == nil {
		p = newProc(pid, &tr.cfg)
		tr.procs[pid] = p
	}
	return p
}

func (tr *Tracker) emitError(th *thread, e *event.CUDA, stepID uint64) {
	ci := classIndex(e.Result)
	p := th.proc
	p.errs[ci]++
	if Classes[ci] == ClassStickyFault && !p.faulted {
		p.faulted, p.faultNS = true, e.TS
	}
	tr.stats.Errors++
	tr.sink.Error(Error{
		PID: e.PID, TID: e.TID, TS: e.TS, Call: e.Call, Result: e.Result,
		Name: ResultName(e.Result), Class: Classes[ci], StepID: stepID,
	})
}

// sub is a - b, or 0 when b is later (a stream slightly out of order).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
