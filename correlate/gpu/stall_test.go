package gpustep

import (
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestStalls(t *testing.T) {
	a, b, c := ev{10, 11}, ev{10, 12}, ev{20, 21}
	tr, col := run(t, Config{StallAfter: 2 * time.Second}, cat(
		a.kernel(1*ms, "k"), a.waitIn(2*ms, event.CallStreamSynchronize),
		b.waitIn(500*ms, event.CallEventSynchronize),
		c.kernel(600*ms, "k"), c.waitIn(700*ms, event.CallCtxSynchronize),
	))
	if got := tr.Stalls(2*s1 + 1*ms); len(got) != 0 {
		t.Errorf("stalls before the threshold: %+v", got)
	}
	got := tr.Stalls(2*s1 + 2*ms)
	if len(got) != 1 || got[0].PID != 10 || got[0].TID != 11 || got[0].Call != event.CallStreamSynchronize ||
		got[0].SinceNS != 2*ms || got[0].DurationNS != 2*s1 || got[0].Ended {
		t.Fatalf("stalls at the threshold: %+v", got)
	}
	got = tr.Stalls(3 * s1)
	if len(got) != 3 || got[0].TID != 11 || got[1].TID != 12 || got[1].DurationNS != 2500*ms || got[2].PID != 20 || got[2].DurationNS != 2300*ms {
		t.Fatalf("stalls at 3 s, longest first: %+v", got)
	}
	lw := tr.LongestWaits(1 * s1)
	if len(lw) != 2 || lw[0].PID != 10 || lw[0].TID != 11 || lw[0].DurationNS != 998*ms || lw[1].PID != 20 || lw[1].DurationNS != 300*ms {
		t.Errorf("longest waits per pid: %+v", lw)
	}
	// a's wait returns: its stall clears and is reported with its total length
	tr.Handle(a.waitOut(2*ms, 4*s1, event.CallStreamSynchronize, 0))
	// b's returns before the threshold: no stall record
	tr.Handle(b.waitOut(500*ms, 2*s1+400*ms, event.CallEventSynchronize, 0))
	got = tr.Stalls(4 * s1)
	if len(got) != 1 || got[0].PID != 20 {
		t.Errorf("stalls after a's and b's returns: %+v", got)
	}
	if len(col.Stalls) != 1 {
		t.Fatalf("ended stalls %+v", col.Stalls)
	}
	if s := col.Stalls[0]; !s.Ended || s.TID != 11 || s.SinceNS != 2*ms || s.EndNS != 4*s1 || s.DurationNS != 4*s1-2*ms {
		t.Errorf("ended stall %+v", s)
	}
	if len(col.Steps) != 1 || col.Steps[0].WaitNS != 4*s1-2*ms {
		t.Errorf("the stalled step %+v", col.Steps)
	}
	u, _ := tr.Usage(10)
	if u.Stalls != 1 {
		t.Errorf("usage stalls %d", u.Stalls)
	}
	// the process exits: its stall goes with it
	tr.Forget(20)
	if got := tr.Stalls(10 * s1); len(got) != 0 {
		t.Errorf("stalls after exit: %+v", got)
	}
}

func TestStallDefaultThreshold(t *testing.T) {
	a := ev{1, 1}
	tr, _ := run(t, Config{}, cat(a.waitIn(1*s1, event.CallStreamSynchronize)))
	if n := len(tr.Stalls(6*s1 - 1)); n != 0 {
		t.Errorf("%d stalls just under 5 s", n)
	}
	if n := len(tr.Stalls(6 * s1)); n != 1 {
		t.Errorf("%d stalls at 5 s", n)
	}
}
