package gpustep

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// want is the part of a Step a table compares.
type want struct {
	id, start, end uint64
	pid, tid       uint32
	gap            int64 // -1: unknown
	span, wait     uint64
	call           event.Call
	launches       int
	graphs         int
	kind           Kind
	result         int32
}

func check(t *testing.T, got []Step, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d steps, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if w.call == 0 {
			w.call = event.CallStreamSynchronize
		}
		if g.ID != w.id || g.PID != w.pid || g.TID != w.tid || g.StartNS != w.start || g.EndNS != w.end ||
			gapOf(g) != w.gap || g.LaunchSpanNS != w.span || g.WaitNS != w.wait || g.WaitCall != w.call ||
			g.Launches != w.launches || g.GraphLaunches != w.graphs || g.Kind != w.kind || g.Result != w.result {
			t.Errorf("step %d:\n got id %d pid %d tid %d [%d,%d] gap %d span %d wait %d %v launches %d graphs %d %s result %d\nwant %+v",
				i, g.ID, g.PID, g.TID, g.StartNS, g.EndNS, gapOf(g), g.LaunchSpanNS, g.WaitNS, g.WaitCall,
				g.Launches, g.GraphLaunches, g.Kind, g.Result, w)
		}
		if g.StartNS > g.EndNS {
			t.Errorf("step %d starts after it ends", i)
		}
	}
}

func TestSteps(t *testing.T) {
	a := ev{10, 11}
	b := ev{10, 12}
	c := ev{20, 21}
	const capStream = 0xcafe
	tests := []struct {
		name  string
		cfg   Config
		evs   []*event.CUDA
		want  []want
		usage func(*testing.T, Usage)
	}{
		{
			name: "eager prefill then graph decode",
			evs: cat(
				a.kernel(1*ms, "embed"), a.kernel(1*ms+10*us, "attn"), a.kernel(1*ms+20*us, "mlp"),
				a.kernel(1*ms+30*us, "attn"), a.kernel(1*ms+40*us, "mlp"), a.sync(2*ms, 12*ms),
				a.graph(13*ms), a.sync(13*ms+100*us, 20*ms),
				a.graph(21*ms+500*us), a.sync(21*ms+600*us, 27*ms),
			),
			want: []want{
				{id: 1, pid: 10, tid: 11, start: 1 * ms, end: 12 * ms, gap: -1, span: 40 * us, wait: 10 * ms, launches: 5, kind: KindPrefill},
				{id: 2, pid: 10, tid: 11, start: 13 * ms, end: 20 * ms, gap: int64(1 * ms), wait: 6*ms + 900*us, graphs: 1, kind: KindDecode},
				{id: 3, pid: 10, tid: 11, start: 21*ms + 500*us, end: 27 * ms, gap: int64(1*ms + 500*us), wait: 5*ms + 400*us, graphs: 1, kind: KindDecode},
			},
			usage: func(t *testing.T, u Usage) {
				if u.Launches != 5 || u.GraphLaunches != 2 || u.Steps != 3 || u.PrefillSteps != 1 || u.DecodeSteps != 2 {
					t.Errorf("usage counts %+v", u)
				}
				if u.HostGapNS != 2*ms+500*us || u.HostGaps != 2 {
					t.Errorf("host gap %d over %d, want 2.5 ms over 2", u.HostGapNS, u.HostGaps)
				}
				if u.BusyNS != 11*ms+7*ms+5*ms+500*us {
					t.Errorf("busy %d", u.BusyNS)
				}
			},
		},
		{
			// two captured by flag, one by the stream's capture; after the capture the
			// stream executes again
			name: "captured launches are not executions",
			evs: cat(
				func() *event.CUDA {
					e := a.ret(1*ms, 1*ms+5*us, event.CallStreamBeginCapture, 0)
					e.Stream = capStream
					return e
				}(),
				a.captured(2*ms, "attn"), a.captured(2*ms+10*us, "mlp"),
				func() *event.CUDA { e := a.kernel(2*ms+20*us, "mlp"); e.Stream = capStream; return e }(),
				func() *event.CUDA {
					e := a.ret(3*ms, 3*ms+5*us, event.CallStreamEndCapture, 0)
					e.Stream = capStream
					return e
				}(),
				func() *event.CUDA { e := a.kernel(3*ms+10*us, "after"); e.Stream = capStream; return e }(),
				a.ret(4*ms, 5*ms, event.CallGraphInstantiate, 0),
				a.sync(6*ms, 6*ms+50*us),
				a.graph(7*ms), a.sync(7*ms+10*us, 9*ms),
			),
			want: []want{
				{id: 1, pid: 10, tid: 11, start: 3*ms + 10*us, end: 6*ms + 50*us, gap: -1, wait: 50 * us, launches: 1, kind: KindPrefill},
				{id: 2, pid: 10, tid: 11, start: 7 * ms, end: 9 * ms, gap: int64(950 * us), wait: 2*ms - 10*us, graphs: 1, kind: KindDecode},
			},
			usage: func(t *testing.T, u Usage) {
				if u.CapturedLaunches != 3 || u.Launches != 1 || u.GraphLaunches != 1 {
					t.Errorf("captured %d launches %d graphs %d, want 3 1 1", u.CapturedLaunches, u.Launches, u.GraphLaunches)
				}
			},
		},
		{
			name: "waits without launches make no step",
			evs: cat(
				a.sync(1*ms, 2*ms), a.sync(3*ms, 3*ms+500*us),
				a.kernel(4*ms, "k"), a.kernel(4*ms+1*us, "k"), a.sync(4*ms+2*us, 6*ms),
				a.sync(7*ms, 7*ms+1*us),
			),
			want: []want{
				{id: 1, pid: 10, tid: 11, start: 4 * ms, end: 6 * ms, gap: int64(500 * us), span: 1 * us, wait: 2*ms - 2*us, launches: 2, kind: KindPrefill},
			},
			usage: func(t *testing.T, u Usage) {
				if u.Waits != 4 || u.WaitNS != 1*ms+500*us+(2*ms-2*us)+1*us {
					t.Errorf("waits %d for %d ns", u.Waits, u.WaitNS)
				}
			},
		},
		{
			name: "event record and event sync",
			evs: cat(
				a.graph(1*ms),
				a.ret(1*ms+10*us, 1*ms+12*us, event.CallMemcpyDtoHAsync, 0),
				a.ret(1*ms+13*us, 1*ms+14*us, event.CallEventRecord, 0),
				a.waitIn(1*ms+20*us, event.CallEventSynchronize),
				a.waitOut(1*ms+20*us, 8*ms, event.CallEventSynchronize, 0),
				a.kernel(9*ms, "k"),
				a.waitIn(9*ms+5*us, event.CallMemcpyDtoH), a.waitOut(9*ms+5*us, 10*ms, event.CallMemcpyDtoH, 0),
			),
			want: []want{
				{id: 1, pid: 10, tid: 11, start: 1 * ms, end: 8 * ms, gap: -1, wait: 8*ms - 1*ms - 20*us, call: event.CallEventSynchronize, graphs: 1, kind: KindDecode},
				{id: 2, pid: 10, tid: 11, start: 9 * ms, end: 10 * ms, gap: int64(1 * ms), wait: 1*ms - 5*us, call: event.CallMemcpyDtoH, launches: 1, kind: KindPrefill},
			},
		},
		{
			name: "threads interleaved",
			evs: cat(
				a.kernel(1*ms, "x"), b.graph(1*ms+1*us), c.kernel(1*ms+2*us, "y"),
				a.kernel(1*ms+3*us, "x"),
				b.waitIn(1*ms+4*us, event.CallStreamSynchronize),
				a.waitIn(1*ms+5*us, event.CallCtxSynchronize),
				c.waitIn(1*ms+6*us, event.CallStreamSynchronize),
				b.waitOut(1*ms+4*us, 2*ms, event.CallStreamSynchronize, 0),
				b.graph(2*ms+100*us),
				c.waitOut(1*ms+6*us, 3*ms, event.CallStreamSynchronize, 0),
				a.waitOut(1*ms+5*us, 4*ms, event.CallCtxSynchronize, 0),
				b.sync(2*ms+200*us, 5*ms),
			),
			want: []want{
				{id: 2, pid: 10, tid: 12, start: 1*ms + 1*us, end: 2 * ms, gap: -1, wait: 1*ms - 4*us, graphs: 1, kind: KindDecode},
				{id: 3, pid: 20, tid: 21, start: 1*ms + 2*us, end: 3 * ms, gap: -1, wait: 2*ms - 6*us, launches: 1, kind: KindPrefill},
				{id: 1, pid: 10, tid: 11, start: 1 * ms, end: 4 * ms, gap: -1, span: 3 * us, wait: 3*ms - 5*us, call: event.CallCtxSynchronize, launches: 2, kind: KindPrefill},
				{id: 4, pid: 10, tid: 12, start: 2*ms + 100*us, end: 5 * ms, gap: int64(100 * us), wait: 2*ms + 800*us, graphs: 1, kind: KindDecode},
			},
		},
		{
			name: "graph with eager launches is prefill by default",
			evs:  cat(a.graph(1*ms), a.kernel(1*ms+1*us, "sample"), a.sync(1*ms+2*us, 2*ms)),
			want: []want{{id: 1, pid: 10, tid: 11, start: 1 * ms, end: 2 * ms, gap: -1, span: 1 * us, wait: 1*ms - 2*us, launches: 1, graphs: 1, kind: KindPrefill}},
		},
		{
			name: "graph with eager launches within DecodeEagerMax is decode",
			cfg:  Config{DecodeEagerMax: 2},
			evs:  cat(a.graph(1*ms), a.kernel(1*ms+1*us, "sample"), a.kernel(1*ms+2*us, "argmax"), a.sync(1*ms+3*us, 2*ms)),
			want: []want{{id: 1, pid: 10, tid: 11, start: 1 * ms, end: 2 * ms, gap: -1, span: 2 * us, wait: 1*ms - 3*us, launches: 2, graphs: 1, kind: KindDecode}},
		},
		{
			name: "lost wait return abandons the open step",
			evs: cat(
				a.sync(0, 1*ms),
				a.kernel(2*ms, "k"), a.waitIn(3*ms, event.CallStreamSynchronize),
				a.kernel(5*ms, "k"), a.sync(6*ms, 7*ms),
				a.kernel(8*ms, "k"), a.sync(9*ms, 10*ms),
			),
			want: []want{
				{id: 2, pid: 10, tid: 11, start: 5 * ms, end: 7 * ms, gap: -1, wait: 1 * ms, launches: 1, kind: KindPrefill},
				{id: 3, pid: 10, tid: 11, start: 8 * ms, end: 10 * ms, gap: int64(1 * ms), wait: 1 * ms, launches: 1, kind: KindPrefill},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c := run(t, tt.cfg, tt.evs)
			check(t, c.Steps, tt.want)
			if tt.usage != nil {
				u, err := tr.Usage(10)
				if err != nil {
					t.Fatal(err)
				}
				tt.usage(t, u)
			}
		})
	}
}

func TestLostReturnStats(t *testing.T) {
	a := ev{1, 1}
	tr, _ := run(t, Config{}, cat(a.kernel(1*ms, "k"), a.graph(1*ms+1), a.waitIn(2*ms, event.CallStreamSynchronize), a.kernel(3*ms, "k")))
	s := tr.Stats()
	if s.LostReturns != 1 || s.AbandonedSteps != 1 || s.AbandonedLaunches != 2 || s.Events != 4 || s.Threads != 1 || s.Procs != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestStepKernels(t *testing.T) {
	a := ev{1, 1}
	names := []string{"a", "b", "b", "c", "c", "c", "d", "d", "d", "d"}
	var evs []*event.CUDA
	for i, n := range names {
		evs = append(evs, a.kernel(uint64(i+1)*us, n))
	}
	evs = append(evs, a.sync(1*ms, 2*ms)...)
	_, c := run(t, Config{StepKernels: 2}, evs)
	if len(c.Steps) != 1 {
		t.Fatalf("got %d steps", len(c.Steps))
	}
	got := c.Steps[0].Kernels
	want := []KernelCount{{"d", 4}, {"c", 3}, {OtherKernels, 3}}
	if len(got) != len(want) {
		t.Fatalf("kernels %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("kernels %v, want %v", got, want)
		}
	}
}

func TestFeedForgetsOnExit(t *testing.T) {
	c := &Collector{}
	tr, err := New(Config{}, c)
	if err != nil {
		t.Fatal(err)
	}
	a, b := ev{5, 5}, ev{5, 6}
	tr.Feed(a.kernel(1*ms, "k"))
	tr.Feed(b.kernel(1*ms, "k"))
	tr.Feed(&event.Sock{Header: event.Header{TS: 2 * ms, PID: 5, TID: 5}})
	if s := tr.Stats(); s.Threads != 2 || s.Procs != 1 || s.Events != 2 {
		t.Errorf("before the exit: %+v", s)
	}
	// The exit comes once, from the last thread to leave (here not the leader, which
	// called pthread_exit first): the whole process is gone.
	tr.Feed(&event.Proc{Header: event.Header{TS: 3 * ms, PID: 5, TID: 6}, Op: event.ProcExit})
	if s := tr.Stats(); s.Threads != 0 || s.Procs != 0 {
		t.Errorf("after process exit: %+v", s)
	}
	if _, err := tr.Usage(5); err != ErrUnknownPID {
		t.Errorf("usage of a forgotten pid: %v", err)
	}
	// a new process with the same pid starts clean
	for _, e := range cat(a.kernel(5*ms, "k"), a.sync(6*ms, 7*ms)) {
		tr.Feed(e)
	}
	if len(c.Steps) != 1 || c.Steps[0].StartNS != 5*ms || c.Steps[0].HostGapNS != nil {
		t.Errorf("steps after exit %+v", c.Steps)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{StallAfter: -1}, {StepKernels: -1}, {KernelSlots: -2}, {DecodeEagerMax: -1}, {WindowSteps: -1}} {
		if _, err := New(cfg, &Collector{}); err == nil {
			t.Errorf("New(%+v) accepted a negative field", cfg)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted a nil sink")
	}
}

func TestStepJSON(t *testing.T) {
	a := ev{3, 4}
	_, c := run(t, Config{}, cat(a.graph(1*ms), a.sync(2*ms, 3*ms), a.kernel(4*ms, "k"), a.sync(5*ms, 6*ms)))
	first, err := json.Marshal(c.Steps[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"pid":3,"tid":4,"start_ns":1000000,"end_ns":3000000,"host_gap_ns":null,"launch_span_ns":0,` +
		`"wait_ns":1000000,"wait_call":"cuStreamSynchronize","launches":0,"graph_launches":1,"kind":"decode"}`
	if string(first) != want {
		t.Errorf("json\n got %s\nwant %s", first, want)
	}
	second, _ := json.Marshal(c.Steps[1])
	if !strings.Contains(string(second), `"host_gap_ns":1000000,`) || !strings.Contains(string(second), `"kernels":[{"name":"k","count":1}]`) {
		t.Errorf("json %s", second)
	}
}
