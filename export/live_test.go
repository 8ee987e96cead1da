package export

import (
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/tracer/event"
)

type discard struct{}

func (discard) Request(*correlate.Request)      {}
func (discard) Step(*correlate.Step)            {}
func (discard) CUDAError(string, gpustep.Error) {}
func (discard) Stall(string, gpustep.Stall)     {}

// An engine that exits and is replaced: the unit's counters go on from where the first
// one left them, and the replacement is a restart.
func TestLiveRestart(t *testing.T) {
	s := newSynth()
	s.step(3*ms, 13*ms, false)
	s.step(14*ms, 24*ms, true)
	c, err := correlate.New(testOptions(), discard{})
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(nil, LiveOptions{TopKernels: 1, Every: time.Second})
	feed := func() {
		for _, e := range s.evs {
			live.Observe(c, e)
			c.Feed(e)
		}
		s.evs = nil
	}
	feed()
	live.Publish(c, 30*ms, wallAt(30*ms))
	// Published less than Every later: nothing changes.
	s.step(31*ms, 41*ms, false)
	feed()
	live.Publish(c, 42*ms, wallAt(42*ms))
	units, at := live.Units()
	if len(units) != 1 || units[0].Launches != 4 || !at.Equal(wallAt(30*ms)) {
		t.Fatalf("after the second publication %v: %+v", at, units)
	}

	s.evs = append(s.evs, &event.Proc{Header: event.Header{TS: 50 * ms, PID: 11, TID: 11}, Op: event.ProcExit})
	feed()
	live.Publish(c, 2000*ms, wallAt(2000*ms)) // 11 is gone, no replacement yet
	s.engine = 13
	s.evs = append(s.evs, &event.Proc{Header: event.Header{TS: 2100 * ms, PID: 13, TID: 13}, Op: event.ProcFound, PPID: 10, Comm: "engine", StartNS: 2100 * ms})
	s.step(2200*ms, 2210*ms, false)
	feed()
	live.Publish(c, 3300*ms, wallAt(3300*ms))

	units, _ = live.Units()
	if len(units) != 1 {
		t.Fatalf("units = %+v", units)
	}
	u := units[0]
	// 11 launched 2 eager steps (8 kernels, 6 gemm, 2 attn) and one graph; 13 one eager step.
	if u.Unit != "api:8000" || u.Launches != 12 || u.GraphLaunches != 1 || u.Restarts != 1 {
		t.Errorf("unit %s: launches %d graphs %d restarts %d", u.Unit, u.Launches, u.GraphLaunches, u.Restarts)
	}
	// One kernel name has a series: gemm, the most launched at the first publication.
	if len(u.Kernels) != 1 || u.Kernels[0] != (kc{Name: "gemm", Count: 9}) || u.OtherKernels != 3 {
		t.Errorf("kernels %v other %d", u.Kernels, u.OtherKernels)
	}
	if len(u.PIDs) != 1 || u.PIDs[0] != 13 || live.UnitOf(13) != "api:8000" || live.UnitOf(11) != "" {
		t.Errorf("pids %v, unit of 13 %q, of 11 %q", u.PIDs, live.UnitOf(13), live.UnitOf(11))
	}
	// Host gaps: 1 ms and 7 ms on 11 (the step at 31 follows the wait that ended at 24),
	// none yet on 13 (its first step).
	if u.HostGapNS != 1*ms+7*ms {
		t.Errorf("host gap %d ns", u.HostGapNS)
	}
}
