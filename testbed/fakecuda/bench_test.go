package fakecuda

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func runBench(t testing.TB, mode string, n int) float64 {
	t.Helper()
	p := BuildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	proc, err := StartBench(ctx, p, mode, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Go(); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil {
		t.Fatal(err)
	}
	ns, err := proc.NsPerCall()
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// The zero-cost paths are cheap: no sleeping, no syscalls beyond the clock.
func TestBenchModes(t *testing.T) {
	for _, mode := range []string{BenchLaunch, BenchSync, BenchStreamSync} {
		ns := runBench(t, mode, 200_000)
		t.Logf("%s: %.1f ns/call", mode, ns)
		if ns <= 0 || ns > 5000 {
			t.Errorf("%s: %.1f ns per call, want a few hundred at most", mode, ns)
		}
	}
	if _, err := StartBench(context.Background(), Paths{}, "nope", 1, nil); err == nil {
		t.Error("unknown bench mode accepted")
	}
}

// BenchmarkDriverCalls reports the simulated driver's own cost per call, the baseline
// a traced run's overhead is measured against, and the launch/stream-sync ratio.
func BenchmarkDriverCalls(b *testing.B) {
	n := max(b.N, 1000)
	launch := runBench(b, BenchLaunch, n)
	sync := runBench(b, BenchStreamSync, n)
	b.ReportMetric(launch, "launch-ns/call")
	b.ReportMetric(sync, "stream-sync-ns/call")
	b.ReportMetric(launch/sync, "launch/stream-sync")
}

// TestLoop runs the steady workload briefly and checks its shape: per step two kernel
// launches, one graph launch, one copy and one stream sync, and every 16th step an event
// sync; no faster than the GPU time of a step allows.
func TestLoop(t *testing.T) {
	p := BuildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	summary := filepath.Join(t.TempDir(), "loop.json")
	const seconds = 0.3
	proc, err := StartLoop(ctx, p, seconds, summary, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil {
		t.Fatal(err)
	}
	s, err := ReadLoopSummary(summary)
	if err != nil {
		t.Fatal(err)
	}
	if s.PID != proc.PID || s.Steps == 0 {
		t.Fatalf("summary %+v, want pid %d and some steps", s, proc.PID)
	}
	want := map[string]uint64{
		"cuLaunchKernel": 2 * s.Steps, "cuGraphLaunch": s.Steps, "cuMemcpyDtoHAsync_v2": s.Steps,
		"cuStreamSynchronize": s.Steps, "cuEventSynchronize": (s.Steps + 15) / 16,
		"cuEventRecord": (s.Steps + 15) / 16, "cuMemAllocAsync": (s.Steps + 15) / 16,
		"cuMemFreeAsync": (s.Steps + 15) / 16,
	}
	for sym, n := range want {
		if s.Calls[sym] != n {
			t.Errorf("%s called %d times in %d steps, want %d", sym, s.Calls[sym], s.Steps, n)
		}
	}
	if len(s.Calls) != len(want) {
		t.Errorf("calls %v, want only %v", s.Calls, want)
	}
	model, _ := ParseCostModel("")
	step := 32*model.KernelNS("loop_attn", [3]uint32{512, 1, 1}) + model.KernelNS("loop_embed", [3]uint32{64, 1, 1}) +
		model.KernelNS("loop_sample", [3]uint32{8, 1, 1})
	if max := uint64(seconds*1e9)/step + 1; s.Steps > max {
		t.Errorf("%d steps in %v s, but a step's GPU work (%d ns) allows %d", s.Steps, seconds, step, max)
	}
}
