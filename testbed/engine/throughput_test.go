package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// TestThroughputBatch64 keeps 64 requests in flight (a new one arrives as one finishes,
// 128-token prompts, 32-96 output tokens) for a few seconds on the default costs and
// reports tokens/s, the step thread's CPU per step, and how far steps overran their
// simulated cost. The issue asks for at least 2,000 tokens/s of a 64-request batch.
func TestThroughputBatch64(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s load run: not in -short")
	}
	cfg := testConfig(t)
	c := startCore(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	add := func() {
		c.Send(proto.Msg{Op: proto.OpAdd, Add: &proto.Add{ID: fmt.Sprintf("tp-%d", next), PromptTokens: 128, MaxTokens: 32 + rng.IntN(65), ArrivalNS: now()}})
		next++
	}
	for range 64 {
		add()
	}
	var ru0, ru1 unix.Rusage
	const warm, run = time.Second, 5 * time.Second
	var tokens, steps0 uint64
	var cpu0 time.Duration
	start := time.Now()
	measuring := false
	for time.Since(start) < warm+run {
		m := <-c.Out()
		if m.Op != proto.OpStep {
			t.Fatalf("unexpected %+v", m)
		}
		if !measuring && time.Since(start) >= warm {
			measuring = true
			s := c.Stats()
			steps0, cpu0 = s.Steps, s.ThreadCPU
			_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
			start = start.Add(time.Since(start) - warm) // measure from here
		}
		for _, tok := range m.Step.Tokens {
			if measuring {
				tokens++
			}
			if tok.Finished {
				add()
			}
		}
	}
	elapsed := time.Since(start) - warm
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	s := c.Stats()
	steps := s.Steps - steps0
	rate := float64(tokens) / elapsed.Seconds()
	procCPU := time.Duration(unix.TimevalToNsec(ru1.Utime)+unix.TimevalToNsec(ru1.Stime)) -
		time.Duration(unix.TimevalToNsec(ru0.Utime)+unix.TimevalToNsec(ru0.Stime))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readSteps(t, cfg.TruthPath)
	over := overruns(t, cfg, lines, 2*time.Millisecond)
	batch := 0
	var gaps []time.Duration
	for i, l := range lines {
		batch += l.BatchSize
		if i > 0 {
			gaps = append(gaps, time.Duration(l.StartNS-lines[i-1].EndNS))
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	t.Logf("batch 64: %.0f tokens/s over %v (%d steps, mean batch %.1f)", rate, elapsed.Round(time.Millisecond), steps, float64(batch)/float64(len(lines)))
	t.Logf("step thread CPU %v per step; whole test process %v per step (includes this consumer)",
		(s.ThreadCPU-cpu0)/time.Duration(steps), procCPU/time.Duration(steps))
	t.Logf("step overrun of the simulated cost: median %v, p90 %v, p99 %v, max %v",
		pct(over, 0.5), pct(over, 0.9), pct(over, 0.99), pct(over, 1))
	t.Logf("host gap between steps (wait return to next first launch): median %v, p90 %v, p99 %v",
		pct(gaps, 0.5), pct(gaps, 0.9), pct(gaps, 0.99))
	if rate < 2000 {
		t.Errorf("%.0f tokens/s at batch 64, want at least 2000", rate)
	}
}
