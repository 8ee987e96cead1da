package gpustep

import (
	"cmp"
	"fmt"
	"slices"
)

// Usage is a process's cumulative counters, since it was first seen.
type Usage struct {
	PID              uint32 `json:"pid"`
	Launches         uint64 `json:"launches"`          // executed kernel launches
	GraphLaunches    uint64 `json:"graph_launches"`    // executed graph launches
	CapturedLaunches uint64 `json:"captured_launches"` // launches recorded into a graph
	Steps            uint64 `json:"steps"`
	PrefillSteps     uint64 `json:"prefill_steps"`
	DecodeSteps      uint64 `json:"decode_steps"`
	Waits            uint64 `json:"waits"`   // waits returned, with or without a step
	WaitNS           uint64 `json:"wait_ns"` // their total duration
	Stalls           uint64 `json:"stalls"`  // waits that lasted at least StallAfter
	// HostGapNS is the sum of the known host gaps of its steps (HostGaps of them): time
	// the GPU waited on the CPU between steps, host-bound idle.
	HostGapNS uint64 `json:"host_gap_ns"`
	HostGaps  uint64 `json:"host_gaps"`
	// BusyNS is the sum of its steps' durations (first launch to the closing wait's return).
	BusyNS uint64 `json:"busy_ns"`
	// Errors counts error returns per class.
	Errors map[Class]uint64 `json:"errors"`
	// Faulted is set at the first sticky fault (at FaultNS): the process must restart.
	Faulted bool   `json:"faulted"`
	FaultNS uint64 `json:"fault_ns,omitempty"`
}

// Usage returns a process's counters.
func (tr *Tracker) Usage(pid uint32) (Usage, error) {
	p := tr.procs[pid]
	if p == nil {
		return Usage{}, ErrUnknownPID
	}
	u := p.u
	u.Errors = make(map[Class]uint64, numClasses)
	for i, c := range Classes {
		u.Errors[c] = p.errs[i]
	}
	u.Faulted, u.FaultNS = p.faulted, p.faultNS
	return u, nil
}

// TopKernels returns a process's n most launched kernel names, most first, and the rest
// summed as OtherKernels.
func (tr *Tracker) TopKernels(pid uint32, n int) ([]KernelCount, error) {
	if n <= 0 {
		return nil, fmt.Errorf("top kernels: n %d is not positive", n)
	}
	p := tr.procs[pid]
	if p == nil {
		return nil, ErrUnknownPID
	}
	return p.kernels.top(n), nil
}

type span struct{ start, end uint64 }

func (p *proc) pushSpan(start, end uint64) {
	if len(p.spans) < p.cfg.WindowSteps {
		p.spans = append(p.spans, span{start, end})
		return
	}
	p.spans[p.head] = span{start, end}
	p.head = (p.head + 1) % len(p.spans)
}

// Window is a process's GPU time over [FromNS, ToNS) from the host's view: busy while one
// of its threads has a step open (closed steps, and open ones up to ToNS), idle otherwise.
type Window struct {
	PID    uint32 `json:"pid"`
	FromNS uint64 `json:"from_ns"`
	ToNS   uint64 `json:"to_ns"`
	BusyNS uint64 `json:"busy_ns"`
	IdleNS uint64 `json:"idle_ns"`
	// Ratio is BusyNS / (ToNS - FromNS): utilisation from the host's view.
	Ratio float64 `json:"ratio"`
	// Steps counts the closed steps that overlap the window.
	Steps int `json:"steps"`
	// Complete is false when the kept history (Config.WindowSteps) starts inside the
	// window, so that older steps in it are not counted.
	Complete bool `json:"complete"`
}

// Window returns a process's busy and idle time over [from, to). Steps are counted once
// they open: call it with `to` at or before the stream's current time.
func (tr *Tracker) Window(pid uint32, from, to uint64) (Window, error) {
	if to <= from {
		return Window{}, fmt.Errorf("window: to %d is not after from %d", to, from)
	}
	p := tr.procs[pid]
	if p == nil {
		return Window{}, ErrUnknownPID
	}
	w := Window{PID: pid, FromNS: from, ToNS: to, Complete: true}
	var in []span
	clip := func(s span) {
		s.start, s.end = max(s.start, from), min(s.end, to)
		if s.start < s.end {
			in = append(in, s)
		}
	}
	oldest := uint64(0)
	for i, s := range p.spans {
		if i == p.head {
			oldest = s.start
		}
		if s.end > from && s.start < to {
			w.Steps++
		}
		clip(s)
	}
	if len(p.spans) == p.cfg.WindowSteps && oldest > from {
		w.Complete = false
	}
	for _, th := range tr.threads {
		if th.pid == pid && th.open {
			clip(span{th.first, to})
		}
	}
	slices.SortFunc(in, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	var cur span
	for i, s := range in {
		switch {
		case i == 0:
			cur = s
		case s.start <= cur.end:
			cur.end = max(cur.end, s.end)
		default:
			w.BusyNS += cur.end - cur.start
			cur = s
		}
	}
	if len(in) > 0 {
		w.BusyNS += cur.end - cur.start
	}
	w.IdleNS = (to - from) - w.BusyNS
	w.Ratio = float64(w.BusyNS) / float64(to-from)
	return w, nil
}
