package engine

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

func newSched(t *testing.T, cfg SchedConfig) *Scheduler {
	t.Helper()
	s, err := NewScheduler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func add(t *testing.T, s *Scheduler, id string, prompt, maxTokens int) {
	t.Helper()
	if st, msg := s.Add(proto.Add{ID: id, PromptTokens: prompt, MaxTokens: maxTokens}, false); st != 0 {
		t.Fatalf("add %s: %d %s", id, st, msg)
	}
}

// stepOnce schedules and completes one step, returning the plan's shape and the tokens.
func stepOnce(s *Scheduler, startNS uint64) (kind string, prefill, decode int, toks []proto.Token) {
	p := s.schedule(startNS)
	if len(p.entries) == 0 {
		return "", 0, 0, nil
	}
	kind, prefill, decode = p.kind(), p.prefillTokens, p.decodeTokens
	return kind, prefill, decode, s.complete(p, startNS, nil)
}

func TestSchedulerPrefillThenDecode(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 4, MaxNumBatchedTokens: 1000, MaxModelLen: 1000})
	add(t, s, "a", 100, 3)
	add(t, s, "b", 200, 2)
	kind, pre, dec, toks := stepOnce(s, 10)
	if kind != "prefill" || pre != 300 || dec != 0 || len(toks) != 2 {
		t.Fatalf("step 0: %s %d+%d tokens, %d emitted; want prefill 300+0, 2", kind, pre, dec, len(toks))
	}
	if toks[0].ID != "a" || toks[0].Index != 0 || toks[0].ScheduledNS != 10 || toks[0].PrefillStartNS != 10 {
		t.Fatalf("first token %+v", toks[0])
	}
	kind, pre, dec, toks = stepOnce(s, 20)
	if kind != "decode" || pre != 0 || dec != 2 || len(toks) != 2 || !toks[1].Finished || toks[1].Reason != "length" || toks[1].PromptTokens != 200 {
		t.Fatalf("step 1: %s %d+%d, tokens %+v", kind, pre, dec, toks)
	}
	kind, _, dec, toks = stepOnce(s, 30)
	if kind != "decode" || dec != 1 || len(toks) != 1 || toks[0].Index != 2 || !toks[0].Finished {
		t.Fatalf("step 2: %s %d, tokens %+v", kind, dec, toks)
	}
	if !s.Idle() || len(s.byID) != 0 {
		t.Fatalf("not idle after both finished: %d waiting, %d running, %d known", s.Waiting(), s.Running(), len(s.byID))
	}
}

func TestSchedulerChunkedPrefill(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 4, MaxNumBatchedTokens: 256, MaxModelLen: 2048, ChunkedPrefill: true})
	add(t, s, "short", 10, 10)
	add(t, s, "long", 1000, 2)
	// Step 0: short's whole prompt (10) and long's first chunk (246).
	kind, pre, dec, toks := stepOnce(s, 1)
	if kind != "prefill" || pre != 256 || dec != 0 || len(toks) != 1 || toks[0].ID != "short" {
		t.Fatalf("step 0: %s %d+%d %v", kind, pre, dec, toks)
	}
	// Then each step: short decodes 1, long takes 255 more: 246+255+255+244 = 1000.
	wantChunks := []int{255, 255, 244}
	for i, want := range wantChunks {
		kind, pre, dec, toks = stepOnce(s, uint64(2+i))
		if kind != "mixed" || pre != want || dec != 1 {
			t.Fatalf("step %d: %s %d+%d, want mixed %d+1", i+1, kind, pre, dec, want)
		}
		last := i == len(wantChunks)-1
		if got := len(toks); (last && got != 2) || (!last && got != 1) {
			t.Fatalf("step %d: %d tokens", i+1, got)
		}
	}
	if toks[1].ID != "long" || toks[1].Index != 0 || toks[1].PrefillStartNS != 1 || toks[1].ScheduledNS != 1 {
		t.Fatalf("long's first token %+v: want prefill start and scheduling at step 0", toks[1])
	}
}

func TestSchedulerNoChunkingWaitsForBudget(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 8, MaxNumBatchedTokens: 1000, MaxModelLen: 1000})
	add(t, s, "a", 600, 5)
	add(t, s, "b", 600, 5) // does not fit beside a: waits a step, whole
	add(t, s, "c", 10, 5)  // FCFS: behind b even though it would fit
	_, pre, _, _ := stepOnce(s, 1)
	if pre != 600 || s.Waiting() != 2 {
		t.Fatalf("step 0: %d prefill tokens, %d waiting; want 600, 2", pre, s.Waiting())
	}
	kind, pre, dec, _ := stepOnce(s, 2)
	if kind != "mixed" || pre != 610 || dec != 1 {
		t.Fatalf("step 1: %s %d+%d; want mixed 610+1", kind, pre, dec)
	}
}

func TestSchedulerRejects(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 2, MaxNumBatchedTokens: 100, MaxWaiting: 3, MaxModelLen: 100})
	for i := range 3 {
		add(t, s, fmt.Sprint(i), 10, 10)
	}
	if st, _ := s.Add(proto.Add{ID: "x", PromptTokens: 10, MaxTokens: 10}, false); st != 429 {
		t.Fatalf("4th waiting request: status %d, want 429", st)
	}
	st, msg := s.Add(proto.Add{ID: "y", PromptTokens: 60, MaxTokens: 41}, false)
	if st != 400 || !strings.Contains(msg, "maximum context length is 100 tokens") || !strings.Contains(msg, "101 tokens") {
		t.Fatalf("over-long request: %d %q", st, msg)
	}
	if st, _ := s.Add(proto.Add{ID: "0", PromptTokens: 1, MaxTokens: 1}, false); st != 409 {
		t.Fatalf("duplicate id: status %d, want 409", st)
	}
	// Once two are running, the queue has room again.
	stepOnce(s, 1)
	if s.Running() != 2 || s.Waiting() != 1 {
		t.Fatalf("%d running, %d waiting; want 2, 1 (max-num-seqs 2)", s.Running(), s.Waiting())
	}
	add(t, s, "x", 10, 10)
}

func TestSchedulerAbortFrees(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 4, MaxNumBatchedTokens: 100, MaxModelLen: 100})
	add(t, s, "run", 10, 50)
	add(t, s, "wait", 95, 5) // does not fit beside run's prefill: waits
	stepOnce(s, 1)
	if !s.Abort("run") || !s.Abort("wait") || s.Abort("run") || s.Abort("nope") {
		t.Fatal("abort: want true for known requests, false for unknown or freed ones")
	}
	if !s.Idle() || len(s.byID) != 0 {
		t.Fatalf("after aborts: %d waiting, %d running, %d known", s.Waiting(), s.Running(), len(s.byID))
	}
	if p := s.schedule(2); len(p.entries) != 0 {
		t.Fatalf("aborted requests scheduled: %d entries", len(p.entries))
	}
}

func TestSchedulerFaultedRequestFails(t *testing.T) {
	s := newSched(t, SchedConfig{MaxNumSeqs: 4, MaxNumBatchedTokens: 100, MaxModelLen: 100})
	if st, _ := s.Add(proto.Add{ID: "bad", PromptTokens: 5, MaxTokens: 5}, true); st != 0 {
		t.Fatal("add")
	}
	add(t, s, "good", 5, 1)
	p := s.schedule(1)
	if len(p.failed) != 1 || p.failed[0].id != "bad" || len(p.entries) != 1 || p.entries[0].req.id != "good" {
		t.Fatalf("failed %d, entries %d", len(p.failed), len(p.entries))
	}
}

// TestSchedulerInvariants drives random configurations with random arrivals and aborts
// and checks every step: limits respected, no request twice in a step, every token once
// and in order, and at the end every request accounted for exactly once.
func TestSchedulerInvariants(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		cfg := SchedConfig{
			MaxNumSeqs:     1 + rng.IntN(32),
			MaxModelLen:    64 + rng.IntN(1024),
			MaxWaiting:     rng.IntN(50),
			ChunkedPrefill: rng.IntN(2) == 0,
		}
		cfg.MaxNumBatchedTokens = cfg.MaxNumSeqs + rng.IntN(2048)
		if !cfg.ChunkedPrefill {
			cfg.MaxNumBatchedTokens = max(cfg.MaxNumBatchedTokens, cfg.MaxModelLen)
		}
		checkInvariants(t, seed, cfg, rng)
	}
}

func checkInvariants(t *testing.T, seed uint64, cfg SchedConfig, rng *rand.Rand) {
	s := newSched(t, cfg)
	type state struct {
		maxTokens, next int
		done            string // "", "finished", "aborted", "rejected", "failed"
	}
	reqs := map[string]*state{}
	var ids []string
	for step := range 200000 {
		for range rng.IntN(4) {
			if len(ids) >= 400 {
				break
			}
			id := fmt.Sprintf("r%d", len(ids))
			prompt := 1 + rng.IntN(cfg.MaxModelLen)
			mt := 1 + rng.IntN(40)
			st := &state{maxTokens: mt}
			reqs[id], ids = st, append(ids, id)
			if code, _ := s.Add(proto.Add{ID: id, PromptTokens: prompt, MaxTokens: mt}, rng.IntN(30) == 0); code != 0 {
				st.done = "rejected"
				if code == 429 && (cfg.MaxWaiting == 0 || s.Waiting() < cfg.MaxWaiting) {
					t.Fatalf("seed %d: 429 with %d waiting of %d", seed, s.Waiting(), cfg.MaxWaiting)
				}
				if code == 400 && prompt+mt <= cfg.MaxModelLen {
					t.Fatalf("seed %d: 400 for %d+%d within %d", seed, prompt, mt, cfg.MaxModelLen)
				}
			}
		}
		if len(ids) > 0 && rng.IntN(10) == 0 {
			id := ids[rng.IntN(len(ids))]
			if s.Abort(id) {
				if reqs[id].done != "" {
					t.Fatalf("seed %d: abort of %s succeeded after %s", seed, id, reqs[id].done)
				}
				reqs[id].done = "aborted"
			}
		}
		p := s.schedule(uint64(step + 1))
		for _, r := range p.failed {
			if reqs[r.id].done != "" || reqs[r.id].next != 0 {
				t.Fatalf("seed %d: %s failed after %s, %d tokens", seed, r.id, reqs[r.id].done, reqs[r.id].next)
			}
			reqs[r.id].done = "failed"
		}
		if len(p.entries) > cfg.MaxNumSeqs || s.Running() > cfg.MaxNumSeqs {
			t.Fatalf("seed %d step %d: %d entries, %d running, max-num-seqs %d", seed, step, len(p.entries), s.Running(), cfg.MaxNumSeqs)
		}
		if p.tokens() > cfg.MaxNumBatchedTokens {
			t.Fatalf("seed %d step %d: %d tokens over budget %d", seed, step, p.tokens(), cfg.MaxNumBatchedTokens)
		}
		inStep := map[string]bool{}
		for _, e := range p.entries {
			if inStep[e.req.id] || e.tokens < 1 {
				t.Fatalf("seed %d step %d: %s twice or with %d tokens", seed, step, e.req.id, e.tokens)
			}
			inStep[e.req.id] = true
			if !cfg.ChunkedPrefill && e.prefill && e.tokens != e.req.prompt {
				t.Fatalf("seed %d: prompt of %s split (%d of %d) without chunked prefill", seed, e.req.id, e.tokens, e.req.prompt)
			}
		}
		for _, tok := range s.complete(p, uint64(step+1), nil) {
			st := reqs[tok.ID]
			if st.done != "" || tok.Index != st.next {
				t.Fatalf("seed %d: token %d of %s, want %d (state %q)", seed, tok.Index, tok.ID, st.next, st.done)
			}
			if tok.Text != tokenText(tok.ID, tok.Index) {
				t.Fatalf("seed %d: token text %q", seed, tok.Text)
			}
			st.next++
			if tok.Finished != (st.next == st.maxTokens) {
				t.Fatalf("seed %d: %s token %d finished=%v with max_tokens %d", seed, tok.ID, tok.Index, tok.Finished, st.maxTokens)
			}
			if tok.Finished {
				st.done = "finished"
			}
		}
		if len(ids) >= 400 && s.Idle() {
			break
		}
	}
	if !s.Idle() || len(s.byID) != 0 {
		t.Fatalf("seed %d %+v: not drained: %d waiting, %d running; head %+v", seed, cfg, s.Waiting(), s.Running(), *s.waiting[0])
	}
	for id, st := range reqs {
		switch st.done {
		case "finished":
			if st.next != st.maxTokens {
				t.Fatalf("seed %d: %s finished with %d of %d tokens", seed, id, st.next, st.maxTokens)
			}
		case "aborted", "rejected", "failed":
		default:
			t.Fatalf("seed %d: %s lost (%d tokens)", seed, id, st.next)
		}
	}
}
