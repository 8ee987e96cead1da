package gpustep

import (
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

var fuzzWaits = []event.Call{event.CallStreamSynchronize, event.CallEventSynchronize, event.CallCtxSynchronize, event.CallMemcpyDtoH, event.CallMemcpyHtoD}
var fuzzResults = []int32{0, 0, 0, 0, 0, ErrNotReady, ErrOutOfMemory, ErrIllegalAddress, ErrLaunchOutOfResources, ErrECCUncorrectable, ErrInvalidValue}

// fuzzStream turns bytes into a time-ordered stream of events of four threads of two
// processes, 3 bytes an event: what, which thread, how long after the previous one.
func fuzzStream(data []byte) (evs []*event.CUDA, errs int) {
	threads := []ev{{1, 1}, {1, 2}, {2, 3}, {2, 4}}
	inflight := map[int]*event.CUDA{}
	ts := uint64(1)
	for i := 0; i+2 < len(data); i += 3 {
		op, ti, dt := data[i], int(data[i+1])%len(threads), uint64(data[i+2])
		ts += dt*uint64(us) + 1
		th := threads[ti]
		x := int(op >> 4)
		result := fuzzResults[x%len(fuzzResults)]
		var e *event.CUDA
		switch op % 12 {
		case 0, 1, 2:
			e = th.kernel(ts, []string{"a", "b", "c", "d", ""}[x%5])
			e.Handle = uint64(x % 3)
		case 3:
			e = th.graph(ts)
		case 4:
			e = th.captured(ts, "cap")
		case 5:
			e = th.waitIn(ts, fuzzWaits[x%len(fuzzWaits)])
			inflight[ti] = e
		case 6, 7: // the return of the wait in flight, or one whose entry was lost
			in := inflight[ti]
			start, call := ts-dt*uint64(us)/2, fuzzWaits[x%len(fuzzWaits)]
			if in != nil {
				start, call = in.Start, in.Call
			}
			delete(inflight, ti)
			e = th.waitOut(start, ts, call, result)
		case 8:
			e = th.ret(ts-1, ts, []event.Call{event.CallMemAlloc, event.CallMemAllocAsync, event.CallMemCreate}[x%3], result)
			e.Out, e.Bytes = uint64(x%4), uint64(x+1)<<20
		case 9:
			e = th.ret(ts-1, ts, []event.Call{event.CallMemFree, event.CallMemFreeAsync, event.CallMemRelease}[x%3], result)
			e.Addr, e.Handle = uint64(x%4), uint64(x%4)
		case 10:
			e = th.ret(ts-1, ts, []event.Call{event.CallStreamBeginCapture, event.CallStreamEndCapture, event.CallEventRecord}[x%3], result)
		case 11:
			e = th.ret(ts-1, ts, event.CallMemcpyDtoHAsync, result)
		}
		if e.Return && IsError(e.Result) {
			errs++
		}
		evs = append(evs, e)
	}
	return evs, errs
}

func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 0, 1, 5, 0, 2, 6, 0, 50, 3, 1, 1, 5, 1, 1, 6, 1, 9})
	f.Add([]byte{0x10, 2, 3, 0x20, 2, 3, 0x75, 2, 3, 0x76, 2, 200, 0x33, 3, 1, 0x45, 3, 0, 0x06, 3, 255})
	f.Add([]byte{8, 0, 1, 0x18, 0, 1, 9, 0, 1, 0x2a, 1, 1, 4, 1, 1, 0x1a, 1, 1, 0, 1, 1, 5, 1, 1, 0, 1, 1, 7, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, nerr := fuzzStream(data)
		col := &Collector{}
		tr, err := New(Config{StallAfter: 100 * time.Microsecond, StepKernels: 2, KernelSlots: 3, WindowSteps: 4}, col)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			tr.Handle(e)
		}
		checkInvariants(t, tr, col, nerr)
	})
}

func checkInvariants(t *testing.T, tr *Tracker, col *Collector, nerr int) {
	t.Helper()
	ids := map[uint64]bool{}
	lastEnd := map[uint64]uint64{}
	var stepLaunches uint64
	for _, s := range col.Steps {
		if s.StartNS > s.EndNS || s.Launches+s.GraphLaunches < 1 || s.LaunchSpanNS > s.EndNS-s.StartNS || s.ID == 0 || ids[s.ID] {
			t.Fatalf("malformed step %+v", s)
		}
		ids[s.ID] = true
		var k uint64
		for _, kc := range s.Kernels {
			k += kc.Count
		}
		if k != uint64(s.Launches) {
			t.Fatalf("step %d: kernels %v sum to %d, launches %d", s.ID, s.Kernels, k, s.Launches)
		}
		if (s.Kind == KindDecode) != (s.GraphLaunches > 0 && s.Launches == 0) {
			t.Fatalf("step %d: kind %s with %d launches, %d graphs", s.ID, s.Kind, s.Launches, s.GraphLaunches)
		}
		if s.HostGapNS != nil && *s.HostGapNS > s.StartNS {
			t.Fatalf("step %d: host gap %d before time 0", s.ID, *s.HostGapNS)
		}
		key := threadKey(s.PID, s.TID)
		if s.StartNS < lastEnd[key] {
			t.Fatalf("step %d starts before the thread's previous step ends", s.ID)
		}
		lastEnd[key] = s.EndNS
		stepLaunches += uint64(s.Launches + s.GraphLaunches)
	}
	st := tr.Stats()
	var open uint64
	for _, th := range tr.threads {
		if th.open {
			open += uint64(th.launches + th.graphs)
		}
	}
	var launches, steps uint64
	for _, pid := range tr.PIDs() {
		u, err := tr.Usage(pid)
		if err != nil {
			t.Fatal(err)
		}
		launches += u.Launches + u.GraphLaunches
		steps += u.Steps
		if u.PrefillSteps+u.DecodeSteps != u.Steps {
			t.Fatalf("pid %d: %d prefill + %d decode != %d steps", pid, u.PrefillSteps, u.DecodeSteps, u.Steps)
		}
		m, _ := tr.Memory(pid)
		if m.BeforeBytes+m.AfterBytes != m.CurrentBytes || m.CurrentBytes > m.PeakBytes || m.FreedBytes > m.AllocatedBytes {
			t.Fatalf("pid %d: memory %+v", pid, m)
		}
	}
	if stepLaunches+st.AbandonedLaunches+open != launches {
		t.Fatalf("launches: %d in steps + %d abandoned + %d open != %d", stepLaunches, st.AbandonedLaunches, open, launches)
	}
	if steps != uint64(len(col.Steps)) || st.Steps != steps {
		t.Fatalf("steps: usage %d, stats %d, emitted %d", steps, st.Steps, len(col.Steps))
	}
	if len(col.Errors) != nerr || st.Errors != uint64(nerr) {
		t.Fatalf("errors: %d emitted, %d counted, %d made", len(col.Errors), st.Errors, nerr)
	}
	for _, s := range tr.Stalls(^uint64(0) >> 1) {
		if s.DurationNS < tr.stallNS {
			t.Fatalf("stall shorter than the threshold: %+v", s)
		}
	}
	// every step lands in exactly one unit step
	j, err := NewJoiner(JoinConfig{Unit: func(pid uint32) string { return "u" }})
	if err != nil {
		t.Fatal(err)
	}
	var units []UnitStep
	for _, s := range col.Steps {
		units = append(units, j.Add(s)...)
	}
	units = append(units, j.Close()...)
	seen := map[uint64]int{}
	for _, u := range units {
		if u.StartNS > u.EndNS || u.Workers != len(u.Parts) || u.Workers == 0 {
			t.Fatalf("malformed unit step %+v", u)
		}
		pids := map[uint32]bool{}
		for _, p := range u.Parts {
			if pids[p.PID] || p.StartNS < u.StartNS || p.EndNS > u.EndNS {
				t.Fatalf("unit step %d: bad part %+v", u.ID, p)
			}
			pids[p.PID] = true
			seen[p.ID]++
		}
	}
	if len(seen) != len(col.Steps) {
		t.Fatalf("%d steps joined, %d made", len(seen), len(col.Steps))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("step %d in %d unit steps", id, n)
		}
	}
}
