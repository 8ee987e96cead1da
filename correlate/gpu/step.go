package gpustep

import "github.com/inferprobe/inferprobe/tracer/event"

// thread is the step builder of one thread.
type thread struct {
	pid, tid uint32
	proc     *proc

	// the open step
	open        bool
	id          uint64
	first, last uint64 // first and last launch
	gap         uint64
	gapKnown    bool
	launches    int
	graphs      int
	errors      int
	kernels     stepKernels

	lastEnd  uint64 // the previous wait's return
	ended    bool   // lastEnd is known
	lastStep uint64 // the ID of the last step closed on this thread

	// the wait in flight
	inflight bool
	wCall    event.Call
	wStart   uint64
}

func (tr *Tracker) launch(th *thread, e *event.CUDA) {
	p := th.proc
	if e.Captured || p.capturing(e.Stream, e.TID) {
		p.u.CapturedLaunches++
		return
	}
	ts := e.TS
	if !th.open {
		tr.nextID++
		th.open, th.id, th.first, th.last = true, tr.nextID, ts, ts
		th.gapKnown = th.ended
		th.gap = 0
		if th.ended {
			th.gap = sub(ts, th.lastEnd)
		}
		th.launches, th.graphs, th.errors = 0, 0, 0
		th.kernels.reset()
	}
	if ts > th.last {
		th.last = ts
	}
	if e.Call == event.CallGraphLaunch {
		th.graphs++
		p.u.GraphLaunches++
		return
	}
	th.launches++
	p.u.Launches++
	th.kernels.add(p.kernelID(e))
}

// kernelID counts a launch in the process's kernel table and returns the name's id (-1
// for none). The id is cached by function handle, so that most launches hash a uint64
// instead of a long mangled name.
func (p *proc) kernelID(e *event.CUDA) int32 {
	if e.Handle != 0 {
		if h, ok := p.launched[e.Handle]; ok && (e.Kernel == "" || e.Kernel == h.name) {
			if h.id >= 0 {
				p.kernels.counts[h.id]++
			} else {
				p.kernels.overflow++
			}
			return h.id
		}
	}
	name := e.Kernel
	if name == "" {
		if name = p.names[e.Handle]; name == "" {
			name = UnknownKernel
		}
	}
	id := p.kernels.launch(name)
	if e.Handle != 0 && name != UnknownKernel && len(p.launched) < p.cfg.NameCache {
		if p.launched == nil {
			p.launched = make(map[uint64]launched)
		}
		p.launched[e.Handle] = launched{name: name, id: id}
	}
	return id
}

func (tr *Tracker) waitReturn(th *thread, e *event.CUDA) {
	p := th.proc
	th.inflight = false
	dur := sub(e.TS, e.Start)
	p.u.Waits++
	p.u.WaitNS += dur
	if dur >= tr.stallNS {
		p.u.Stalls++
		tr.sink.Stall(Stall{
			PID: e.PID, TID: e.TID, Call: e.Call, SinceNS: e.Start, DurationNS: dur,
			Ended: true, EndNS: e.TS, Result: e.Result,
		})
	}
	failed := IsError(e.Result)
	stepID := th.lastStep
	if th.open {
		stepID = th.id
		if failed {
			th.errors++
		}
		tr.closeStep(th, e, dur, failed)
	}
	if e.TS > th.lastEnd || !th.ended {
		th.lastEnd = e.TS
	}
	th.ended = true
	if failed {
		tr.emitError(th, e, stepID)
	}
}

func (tr *Tracker) closeStep(th *thread, e *event.CUDA, wait uint64, failed bool) {
	p := th.proc
	end := max(e.TS, th.last)
	s := Step{
		ID: th.id, PID: th.pid, TID: th.tid, StartNS: th.first, EndNS: end,
		LaunchSpanNS: th.last - th.first, WaitNS: wait, WaitCall: e.Call,
		Launches: th.launches, GraphLaunches: th.graphs, Errors: th.errors,
		Kind: tr.kind(th.launches, th.graphs),
	}
	if th.gapKnown {
		g := th.gap
		s.HostGapNS = &g
		p.u.HostGapNS += g
		p.u.HostGaps++
	}
	if failed {
		s.Result = e.Result
	}
	if th.launches > 0 {
		s.Kernels = th.kernels.take(p.kernels.names, tr.cfg.StepKernels)
	}
	p.u.Steps++
	if s.Kind == KindDecode {
		p.u.DecodeSteps++
	} else {
		p.u.PrefillSteps++
	}
	p.u.BusyNS += end - th.first
	p.pushSpan(th.first, end)
	th.open = false
	th.lastStep = th.id
	tr.stats.Steps++
	tr.sink.Step(s)
}

// kind applies the rule of the package doc.
func (tr *Tracker) kind(launches, graphs int) Kind {
	if graphs > 0 && launches <= tr.cfg.DecodeEagerMax {
		return KindDecode
	}
	return KindPrefill
}

// lostReturn handles a thread seen busy while its wait was in flight: the return record
// was lost, the open step's end is unknown, and so is the next host gap.
func (tr *Tracker) lostReturn(th *thread) {
	th.inflight = false
	tr.stats.LostReturns++
	if th.open {
		th.open = false
		tr.stats.AbandonedSteps++
		tr.stats.AbandonedLaunches += uint64(th.launches + th.graphs)
	}
	th.ended = false
}
