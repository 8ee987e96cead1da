package gpustep

import (
	"testing"
	"time"
)

func mkStep(pid uint32, start, end uint64, kind Kind, launches int) Step {
	s := Step{PID: pid, TID: pid, StartNS: start, EndNS: end, Kind: kind, WaitNS: (end - start) / 2}
	if kind == KindDecode {
		s.GraphLaunches = 1
	} else {
		s.Launches = launches
	}
	return s
}

func unitOf(pid uint32) string {
	if pid >= 100 && pid < 200 {
		return "vllm"
	}
	return ""
}

type wantUnit struct {
	start, end uint64
	pids       []uint32
	complete   bool
	gap        int64
	kind       Kind
	launches   int
}

func checkUnits(t *testing.T, got []UnitStep, want []wantUnit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d unit steps, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		gap := int64(-1)
		if g.HostGapNS != nil {
			gap = int64(*g.HostGapNS)
		}
		var pids []uint32
		for _, p := range g.Parts {
			pids = append(pids, p.PID)
		}
		if g.StartNS != w.start || g.EndNS != w.end || g.Complete != w.complete || gap != w.gap || g.Kind != w.kind ||
			g.Launches+g.GraphLaunches != w.launches || g.Workers != len(w.pids) || len(pids) != len(w.pids) {
			t.Errorf("unit step %d: got [%d,%d] pids %v complete %v gap %d kind %s launches %d+%d; want %+v",
				i, g.StartNS, g.EndNS, pids, g.Complete, gap, g.Kind, g.Launches, g.GraphLaunches, w)
			continue
		}
		for k := range pids {
			if pids[k] != w.pids[k] {
				t.Errorf("unit step %d: pids %v, want %v", i, pids, w.pids)
			}
		}
	}
}

func TestJoiner(t *testing.T) {
	j, err := NewJoiner(JoinConfig{Unit: unitOf, Grace: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var got []UnitStep
	add := func(s Step) []UnitStep {
		out := j.Add(s)
		got = append(got, out...)
		return out
	}
	add(mkStep(100, 0, 10*ms, KindPrefill, 50))
	if out := add(mkStep(101, 100*us, 10*ms+200*us, KindPrefill, 50)); len(out) != 0 {
		t.Errorf("emitted while the unit's workers are being learnt: %+v", out)
	}
	// the unit's first step closes by time once A's next step comes in
	add(mkStep(100, 11*ms, 20*ms, KindDecode, 0))
	if len(got) != 1 {
		t.Fatalf("after A2: %d unit steps", len(got))
	}
	// both workers in: emitted at once
	if out := add(mkStep(101, 11*ms+50*us, 20*ms+100*us, KindDecode, 0)); len(out) != 1 {
		t.Fatalf("B2 did not complete the unit step: %+v", out)
	}
	// a process outside any unit passes through
	if out := add(mkStep(7, 21*ms, 22*ms, KindDecode, 0)); len(out) != 1 || out[0].Unit != "" || out[0].Workers != 1 {
		t.Errorf("passthrough: %+v", out)
	}
	// A3 and B3 do not overlap: two unit steps, neither complete
	add(mkStep(100, 30*ms, 40*ms, KindDecode, 0))
	add(mkStep(101, 60*ms, 70*ms, KindDecode, 0))
	got = append(got, j.Close()...)
	checkUnits(t, got, []wantUnit{
		{0, 10*ms + 200*us, []uint32{100, 101}, true, -1, KindPrefill, 100},
		{11 * ms, 20*ms + 100*us, []uint32{100, 101}, true, int64(800 * us), KindDecode, 2},
		{21 * ms, 22 * ms, []uint32{7}, true, -1, KindDecode, 1},
		{30 * ms, 40 * ms, []uint32{100}, false, int64(9*ms + 900*us), KindDecode, 1},
		{60 * ms, 70 * ms, []uint32{101}, false, int64(20 * ms), KindDecode, 1},
	})
	for i, u := range got {
		if u.ID != uint64(i+1) {
			t.Errorf("unit step %d has id %d", i, u.ID)
		}
	}
}

func TestJoinerMovedOnAndForget(t *testing.T) {
	j, err := NewJoiner(JoinConfig{Unit: unitOf, Grace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var got []UnitStep
	step := uint64(10 * ms)
	for k := uint64(0); k < 12; k++ {
		got = append(got, j.Add(mkStep(100, k*step, k*step+8*ms, KindDecode, 0))...)
		if k < 10 { // B stops stepping after its 10th step
			got = append(got, j.Add(mkStep(101, k*step+10*us, k*step+8*ms+20*us, KindDecode, 0))...)
		}
	}
	// 10 unit steps with both; A's 11th closes by A's 12th (moved on), incomplete
	if len(got) != 11 {
		t.Fatalf("got %d unit steps, want 11", len(got))
	}
	for i, u := range got[:10] {
		if u.Workers != 2 || !u.Complete || u.StartNS != uint64(i)*step {
			t.Errorf("unit step %d: %d workers, complete %v, start %d", i, u.Workers, u.Complete, u.StartNS)
		}
	}
	if u := got[10]; u.Workers != 1 || u.Complete || u.StartNS != 10*step {
		t.Errorf("unit step 10: %+v", u)
	}
	// B exits: A's steps complete on their own
	j.Forget(101)
	if out := j.Add(mkStep(100, 12*step, 12*step+8*ms, KindDecode, 0)); len(out) != 2 || !out[1].Complete || out[1].StartNS != 12*step {
		t.Errorf("after B's exit: %+v", out)
	}
	// Flush closes by stream time
	j.Add(mkStep(100, 13*step, 13*step+8*ms, KindDecode, 0))
	if out := j.Flush(13*step + 8*ms + 50*ms); len(out) != 0 {
		t.Errorf("flushed within grace: %+v", out)
	}
}

func TestJoinerWithTracker(t *testing.T) {
	j, err := NewJoiner(JoinConfig{Unit: unitOf, Grace: 1 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := &joinSink{j: j}
	tr, err := New(Config{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	w0, w1 := ev{100, 100}, ev{101, 101}
	evs := cat(
		w0.kernel(1*ms, "gemm"), w1.kernel(1*ms+20*us, "gemm"), w0.kernel(1*ms+30*us, "allreduce"),
		w1.kernel(1*ms+40*us, "allreduce"), w0.sync(1*ms+50*us, 9*ms), w1.sync(1*ms+60*us, 9*ms+30*us),
		w0.graph(10*ms), w1.graph(10*ms+10*us), w0.sync(10*ms+20*us, 15*ms), w1.sync(10*ms+30*us, 15*ms+10*us),
		w0.graph(16*ms), w1.graph(16*ms+10*us), w0.sync(16*ms+20*us, 21*ms), w1.sync(16*ms+30*us, 21*ms+10*us),
	)
	for _, e := range evs {
		tr.Handle(e)
	}
	sink.units = append(sink.units, j.Close()...)
	checkUnits(t, sink.units, []wantUnit{
		{1 * ms, 9*ms + 30*us, []uint32{100, 101}, true, -1, KindPrefill, 4},
		{10 * ms, 15*ms + 10*us, []uint32{100, 101}, true, int64(970 * us), KindDecode, 2},
		{16 * ms, 21*ms + 10*us, []uint32{100, 101}, true, int64(990 * us), KindDecode, 2},
	})
	if u := sink.units[1]; u.Parts[0].ID != 3 || u.Parts[1].ID != 4 || u.WaitNS != 5*ms-20*us {
		t.Errorf("unit step 1 parts %d %d wait %d", u.Parts[0].ID, u.Parts[1].ID, u.WaitNS)
	}
}

type joinSink struct {
	j     *Joiner
	units []UnitStep
}

func (s *joinSink) Step(st Step) { s.units = append(s.units, s.j.Add(st)...) }
func (s *joinSink) Error(Error)  {}
func (s *joinSink) Stall(Stall)  {}

func TestJoinerConfig(t *testing.T) {
	if _, err := NewJoiner(JoinConfig{}); err == nil {
		t.Error("nil unit func accepted")
	}
	if _, err := NewJoiner(JoinConfig{Unit: unitOf, Grace: -1}); err == nil {
		t.Error("negative grace accepted")
	}
}

// TestJoinerLaggingWorker: a worker that fell behind runs its part of a unit step after
// the other worker's part ended (they do not overlap); it still joins that unit step, and
// the next unit steps pair up as before. A step unlike the others' parts does not.
func TestJoinerLaggingWorker(t *testing.T) {
	j, err := NewJoiner(JoinConfig{Unit: unitOf, Grace: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var got []UnitStep
	add := func(s Step) { got = append(got, j.Add(s)...) }
	for k := uint64(0); k < 30; k++ { // learn the two workers
		add(mkStep(100, k*20*ms, k*20*ms+16*ms, KindDecode, 0))
		add(mkStep(101, k*20*ms+10*us, k*20*ms+16*ms+20*us, KindDecode, 0))
	}
	n := len(got)
	t0 := uint64(600 * ms)
	add(mkStep(101, t0, t0+16*ms, KindPrefill, 128))       // B on time
	add(mkStep(100, t0+27*ms, t0+43*ms, KindPrefill, 128)) // A 11 ms after B's part ended
	add(mkStep(101, t0+45*ms, t0+61*ms, KindDecode, 0))
	add(mkStep(100, t0+45*ms+10*us, t0+61*ms+20*us, KindDecode, 0))
	// B's next part is a prefill again; A runs a lone decode-shaped step first: unlike.
	add(mkStep(101, t0+62*ms, t0+70*ms, KindPrefill, 128))
	add(mkStep(100, t0+75*ms, t0+76*ms, KindDecode, 0))
	got = append(got, j.Close()...)
	checkUnits(t, got[n:], []wantUnit{
		{t0, t0 + 43*ms, []uint32{100, 101}, true, int64(3980 * us), KindPrefill, 256},
		{t0 + 45*ms, t0 + 61*ms + 20*us, []uint32{100, 101}, true, int64(2 * ms), KindDecode, 2},
		{t0 + 62*ms, t0 + 70*ms, []uint32{101}, false, int64(980 * us), KindPrefill, 128},
		{t0 + 75*ms, t0 + 76*ms, []uint32{100}, false, int64(5 * ms), KindDecode, 1},
	})
}
