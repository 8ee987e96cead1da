package engine

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/testbed/proto"
)

// TestStepCostMatchesDriver checks StepCost against the simulated driver's own reading
// of the FAKECUDA_COST the engine sets, launch by launch.
func TestStepCostMatchesDriver(t *testing.T) {
	cfg := DefaultConfig()
	model, err := fakecuda.ParseCostModel(CostEnv(cfg.Cost, cfg.Layers, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefill bool
		n       int
		want    time.Duration // from the configured costs, before rounding to integer ns
	}{
		{true, 512, cfg.Cost.Base + 512*cfg.Cost.PrefillToken},
		{false, 64, cfg.Cost.Base + 64*cfg.Cost.DecodeSeq},
		{false, 1, cfg.Cost.Base + cfg.Cost.DecodeSeq},
	} {
		ks := decodeKernels[:]
		if tc.prefill {
			ks = prefillKernels[:]
		}
		var ns uint64
		for range cfg.Layers {
			for _, k := range ks {
				c, ok := model.Kernels[k.name]
				if !ok {
					t.Fatalf("kernel %s has no cost entry", k.name)
				}
				ns += c.BaseNS + c.PerBlockNS*uint64(tc.n)
			}
		}
		got := StepCost(cfg.Cost, cfg.Layers, tc.prefill, tc.n)
		if time.Duration(ns) != got {
			t.Errorf("prefill=%v n=%d: StepCost %v, driver model %v", tc.prefill, tc.n, got, time.Duration(ns))
		}
		if d := got - tc.want; d < -10*time.Microsecond || d > 10*time.Microsecond {
			t.Errorf("prefill=%v n=%d: %v, want %v from the knobs", tc.prefill, tc.n, got, tc.want)
		}
	}
	// Defaults: a decode step of 64 requests in 15-25 ms.
	if d := StepCost(cfg.Cost, cfg.Layers, false, 64); d < 15*time.Millisecond || d > 25*time.Millisecond {
		t.Errorf("default decode step at batch 64: %v", d)
	}
	// A user's own entries come last and win.
	m2, err := fakecuda.ParseCostModel(CostEnv(cfg.Cost, cfg.Layers, "flash_fwd_kernel=1:2"))
	if err != nil || m2.Kernels["flash_fwd_kernel"] != (fakecuda.Cost{BaseNS: 1, PerBlockNS: 2}) {
		t.Errorf("user cost entry did not win: %+v %v", m2.Kernels["flash_fwd_kernel"], err)
	}
}

func TestCaptureSizes(t *testing.T) {
	s := captureSizes(64)
	want := []int{1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64}
	if len(s) != len(want) {
		t.Fatalf("capture sizes %v, want %v", s, want)
	}
	for i := range want {
		if s[i] != want[i] {
			t.Fatalf("capture sizes %v, want %v", s, want)
		}
	}
	if got := captureSizes(12); got[len(got)-1] != 12 || got[len(got)-2] != 8 {
		t.Fatalf("captureSizes(12) = %v", got)
	}
	for n, want := range map[int]int{1: 1, 3: 4, 5: 8, 9: 16, 63: 64, 64: 64} {
		if got := padTo(s, n); got != want {
			t.Errorf("padTo(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestShortRun: a few requests through a real step loop on the simulated driver: the
// first step is a prefill of eager launches, the rest decode steps of one graph launch,
// every request gets its tokens once and in order, and each step lasts its simulated
// cost.
func TestShortRun(t *testing.T) {
	cfg := testConfig(t)
	c := startCore(t, cfg)
	ids := sendAdds(c, "short", 3, 100, 5)
	res := collect(t, c.Out(), ids, 10*time.Second)
	for _, id := range ids {
		o := res[id]
		if o.final != nil || len(o.tokens) != 5 {
			t.Fatalf("%s: %d tokens, final %+v", id, len(o.tokens), o.final)
		}
		for i, tok := range o.tokens {
			if tok.Index != i || tok.Text != TokenText(id, i) || tok.Finished != (i == 4) {
				t.Fatalf("%s token %d: %+v", id, i, tok)
			}
		}
		if f := o.tokens[0]; f.ScheduledNS == 0 || f.PrefillStartNS < f.ScheduledNS || o.tokens[4].PromptTokens != 100 || o.tokens[4].Reason != "length" {
			t.Fatalf("%s: first %+v last %+v", id, f, o.tokens[4])
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	steps := readSteps(t, cfg.TruthPath)
	if len(steps) < 5 || steps[0].StepKind != "prefill" || steps[0].Launches != cfg.Layers*4 || steps[0].GraphLaunches != 0 {
		t.Fatalf("%d steps, first %+v", len(steps), steps[0])
	}
	tokens := 0
	for i, s := range steps {
		if s.Index != uint64(i) || s.PID != os.Getpid() || s.TID == 0 || s.BatchSize != len(s.Requests) {
			t.Fatalf("step %d: %+v", i, s)
		}
		if s.StepKind == "decode" && (s.GraphLaunches != 1 || s.Launches != 0 || s.Tokens != s.BatchSize) {
			t.Fatalf("decode step %d: %+v", i, s)
		}
		if i > 0 && s.StartNS < steps[i-1].EndNS {
			t.Fatalf("step %d starts before step %d ended", i, i-1)
		}
		tokens += s.BatchSize
	}
	if tokens != 15 {
		t.Fatalf("truth counts %d tokens, want 15", tokens)
	}
	// Every step runs on the same thread.
	for _, s := range steps {
		if s.TID != steps[0].TID {
			t.Fatalf("steps on threads %d and %d", steps[0].TID, s.TID)
		}
	}
	over := overruns(t, cfg, steps, 5*time.Millisecond)
	t.Logf("%d steps; overrun of the simulated cost: median %v, max %v", len(steps), pct(over, 0.5), pct(over, 1))
}

// TestWaitModes runs a short load in each wait mode (and with the _ptsz variants).
func TestWaitModes(t *testing.T) {
	for _, mode := range []string{WaitStream, WaitCopy, WaitEvent + "+ptsz"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WaitMode, cfg.PerThread = strings.TrimSuffix(mode, "+ptsz"), strings.HasSuffix(mode, "+ptsz")
			c := startCore(t, cfg)
			ids := sendAdds(c, mode, 4, 64, 4)
			for id, o := range collect(t, c.Out(), ids, 10*time.Second) {
				if len(o.tokens) != 4 {
					t.Fatalf("%s: %d tokens", id, len(o.tokens))
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			overruns(t, cfg, readSteps(t, cfg.TruthPath), 5*time.Millisecond)
		})
	}
}

func TestFaultRateFails500(t *testing.T) {
	cfg := testConfig(t)
	cfg.FaultRate = 1
	c := startCore(t, cfg)
	for id, o := range collect(t, c.Out(), sendAdds(c, "fault", 5, 10, 10), 5*time.Second) {
		if o.final == nil || o.final.Op != proto.OpFail || o.final.Status != 500 || len(o.tokens) != 0 {
			t.Fatalf("%s: %+v, %d tokens; want OpFail 500", id, o.final, len(o.tokens))
		}
	}
	if s := c.Stats(); s.Steps != 0 {
		t.Fatalf("%d steps ran for requests that all failed", s.Steps)
	}
}

// TestRejectPastMaxWaiting: while a long prefill runs, five more requests arrive; the
// queue holds one, the rest get 429.
func TestRejectPastMaxWaiting(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxWaiting = 1
	c := startCore(t, cfg)
	ids := sendAdds(c, "big", 1, 4000, 2) // a 172 ms prefill
	time.Sleep(30 * time.Millisecond)
	ids = append(ids, sendAdds(c, "more", 5, 10, 2)...)
	rejected := 0
	for id, o := range collect(t, c.Out(), ids, 10*time.Second) {
		switch {
		case o.final == nil && len(o.tokens) == 2:
		case o.final != nil && o.final.Op == proto.OpReject && o.final.Status == 429:
			rejected++
		default:
			t.Fatalf("%s: %+v, %d tokens", id, o.final, len(o.tokens))
		}
	}
	// 4, or 3 if the first of the five was taken with the big one.
	if rejected != 4 && rejected != 3 {
		t.Fatalf("%d rejected, want 4 (or 3)", rejected)
	}
}

// TestAbortFrees: an aborted request gets at most the token of the step in flight, and
// the engine goes idle.
func TestAbortFrees(t *testing.T) {
	cfg := testConfig(t)
	c := startCore(t, cfg)
	sendAdds(c, "long", 1, 10, 1000)
	got := 0
	for got < 3 {
		m := <-c.Out()
		if m.Op == proto.OpStep {
			got += len(m.Step.Tokens)
		}
	}
	c.Send(proto.Msg{Op: proto.OpAbort, ID: "long-0"})
	late := 0
	timeout := time.After(300 * time.Millisecond)
	for done := false; !done; {
		select {
		case m := <-c.Out():
			if m.Op == proto.OpStep {
				late += len(m.Step.Tokens)
			}
		case <-timeout:
			done = true
		}
	}
	steps := c.Stats().Steps
	time.Sleep(100 * time.Millisecond)
	if late > 1 || c.Stats().Steps != steps {
		t.Fatalf("after abort: %d more tokens, steps %d -> %d; want at most 1 and idle", late, steps, c.Stats().Steps)
	}
}

// TestStartErrors: a bad configuration or a missing driver stop Start with the reason.
func TestStartErrors(t *testing.T) {
	cfg := testConfig(t)
	cfg.WaitMode = "poll"
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "wait-mode") {
		t.Fatalf("bad wait mode: %v", err)
	}
	cfg = testConfig(t)
	cfg.Lib = t.TempDir()
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "no CUDA driver library") {
		t.Fatalf("no driver: %v", err)
	}
	cfg = testConfig(t)
	cfg.KVCacheBytes = 1 << 40 // more than the simulated 80 GiB
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("KV cache past device memory: %v", err)
	}
	cfg.Workers = 2 // each worker fails the same way, in its own process
	if _, err := Start(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "worker 0: start") || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("workers past device memory: %v", err)
	}
	// The failed start gave its memory back: a full-size engine starts again.
	c := startCore(t, testConfig(t))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestChunkedPrefillRun: a 1000-token prompt with a 256-token budget is computed over
// four steps, batched with another request's decodes (mixed steps, eager launches); its
// prefill start is the start of its first chunk's step.
func TestChunkedPrefillRun(t *testing.T) {
	cfg := testConfig(t)
	cfg.ChunkedPrefill, cfg.MaxNumBatchedTokens = true, 256
	c := startCore(t, cfg)
	short := sendAdds(c, "chunk-short", 1, 10, 12)
	var first proto.Msg
	for first = range c.Out() {
		if first.Op == proto.OpStep {
			break
		}
	}
	long := sendAdds(c, "chunk-long", 1, 1000, 2)
	res := collect(t, c.Out(), append(short[:1:1], long...), 10*time.Second)
	if got := len(res[short[0]].tokens); got != 11 { // the first came before collect
		t.Fatalf("short request: %d more tokens, want 11", got)
	}
	lt := res[long[0]].tokens
	if len(lt) != 2 {
		t.Fatalf("long request: %d tokens", len(lt))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	steps := readSteps(t, cfg.TruthPath)
	var chunkSteps []stepLine
	for _, s := range steps {
		if s.PrefillTokens > 0 && s.Index > 0 {
			chunkSteps = append(chunkSteps, s)
		}
	}
	// 255 + 255 + 255 + 235: the budget less the short request's decode token.
	if len(chunkSteps) != 4 || chunkSteps[0].StepKind != "mixed" || chunkSteps[0].Launches != cfg.Layers*4 {
		t.Fatalf("chunk steps: %+v", chunkSteps)
	}
	total := 0
	for _, s := range chunkSteps {
		total += s.PrefillTokens
		if s.Tokens > cfg.MaxNumBatchedTokens {
			t.Fatalf("step %d: %d tokens over the budget", s.Index, s.Tokens)
		}
	}
	if total != 1000 || lt[0].PrefillStartNS != chunkSteps[0].StartNS || res[long[0]].steps[0] != chunkSteps[3].Index {
		t.Fatalf("prefill tokens %d, prefill start %d (first chunk step %d at %d), first token in step %d",
			total, lt[0].PrefillStartNS, chunkSteps[0].Index, chunkSteps[0].StartNS, res[long[0]].steps[0])
	}
	overruns(t, cfg, steps, 5*time.Millisecond)
}
