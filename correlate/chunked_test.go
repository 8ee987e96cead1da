package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// unitStream starts a synthetic stream of an API server (pid 10) and its engine (pid 11).
func unitStream() *stream {
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine"})
	return &s
}

const sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

// streamed adds a streamed request on conn arriving at arrival: its head and first token
// in one write at writes[0], a token per later write, [DONE] and the last chunk after the
// last one.
func (s *stream) streamed(conn uint64, id string, arrival uint64, writes ...uint64) {
	s.sock(arrival-1000, conn, event.OpAccept, "")
	s.sock(arrival, conn, event.OpRead, streamReq)
	for i, w := range writes {
		b := sse(id, fmt.Sprintf("t%d", i))
		if i == 0 {
			b = sseHead + b
		}
		if i == len(writes)-1 {
			b += chunk("data: [DONE]\n\n") + "0\r\n\r\n"
		}
		s.sock(w, conn, event.OpWrite, b)
	}
}

// run feeds the stream (sorted by time) to a new correlator, closes it and returns it
// with what it made.
func (s *stream) run(t *testing.T, opt Options) (*Correlator, *collect) {
	t.Helper()
	sortEvents(s.evs)
	var out collect
	c, err := New(opt, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.evs {
		c.Feed(e)
	}
	c.Close()
	return c, &out
}

func sortEvents(evs []event.Event) {
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].Hdr().TS < evs[j-1].Hdr().TS; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
}

func byID(reqs []*Request) map[string]*Request {
	m := map[string]*Request{}
	for _, r := range reqs {
		m[r.ID] = r
	}
	return m
}

// steps of 10 ms with 1 ms host gaps: S_i runs from 2+11i to 12+11i ms.
func stepBounds(i int) (uint64, uint64) { return uint64(2+11*i) * ms, uint64(12+11*i) * ms }

// after is the time just after step i ended (when its tokens are written).
func after(i int) uint64 { _, e := stepBounds(i); return e + 200_000 }

// TestChunkedFCFS: with chunked prefill a request's prefill starts where first come,
// first served scheduling put its first chunk: after its predecessor's prefill completed
// and after it reached the engine, not at the first prefill-like step after it arrived.
func TestChunkedFCFS(t *testing.T) {
	s := unitStream()
	for i := 0; i < 7; i++ {
		st, en := stepBounds(i)
		s.step(st, en, false)
	}
	// A arrives with the engine idle at 1 ms: its long prompt runs in S0 and S1.
	s.streamed(1, "a", 1*ms, after(1), after(2), after(3), after(4), after(5), after(6))
	// B arrives while S0 runs: the engine takes it after S0, and A's last chunk leaves
	// room for B's first in S1; its first token comes from S2.
	s.streamed(2, "b", 5*ms, after(2), after(3), after(4))
	// C arrives while S0 runs too, behind B: it starts in S2, where B completed.
	s.streamed(3, "c", 6*ms, after(3), after(4), after(5))
	// D arrives in the host gap after S0, once the engine has taken its inbox: its
	// earliest step is S2, and C holds it back to S3, where its prompt fits whole.
	s.streamed(4, "d", 12*ms+500_000, after(3), after(4))
	// E arrives and is aborted at 40 ms while still queued: it held its place until
	// then, so F (behind it) starts in S4, the first step after the abort, not in S3.
	s.sock(14*ms-1000, 5, event.OpAccept, "")
	s.sock(14*ms, 5, event.OpRead, streamReq)
	s.sock(40*ms, 5, event.OpRead, "")
	s.streamed(6, "f", 15*ms, after(5), after(6))
	// G arrives while S5 runs, with nothing ahead of it: the engine takes it after S5.
	s.streamed(7, "g", 58*ms, after(6))

	_, out := s.run(t, Options{ChunkedPrefill: true})
	got := byID(out.reqs)
	for _, w := range []struct {
		id             string
		queue, prefill float64 // ms
	}{
		{"a", 1, 23.2 - 2},
		{"b", 13 - 5, 34.2 - 13},
		{"c", 24 - 6, 45.2 - 24},
		{"d", 35 - 12.5, 45.2 - 35},
		{"f", 46 - 15, 67.2 - 46},
		{"g", 68 - 58, 78.2 - 68},
	} {
		r := got[w.id]
		if r == nil {
			t.Fatalf("no request %s in %v", w.id, got)
		}
		if r.Queue == nil || r.Prefill == nil || abs(*r.Queue*1e3-w.queue) > 1e-6 || abs(*r.Prefill*1e3-w.prefill) > 1e-6 {
			t.Errorf("%s: queue %v prefill %v ms, want %.1f %.1f", w.id, msOf(r.Queue), msOf(r.Prefill), w.queue, w.prefill)
		}
	}
	if e := got["inferprobe-1"]; e == nil || e.Class != ClassAborted || e.FirstTokenNS != nil {
		t.Errorf("E = %+v", e)
	}
	// Finalized in the engine's order: by the step of the first token, then arrival.
	var order []string
	for _, r := range out.reqs {
		order = append(order, r.ID)
	}
	if fmt.Sprint(order) != "[a b c d inferprobe-1 f g]" {
		t.Errorf("order %v", order)
	}

	// Without chunked prefill, the prefill is the step of the first token.
	_, out = s.run(t, Options{})
	if c := byID(out.reqs)["c"]; c.Queue == nil || abs(*c.Queue*1e3-(35-6)) > 1e-6 {
		t.Errorf("c without chunked prefill: queue %v ms, want 29", msOf(c.Queue))
	}
}

// TestChunkedBudget: with the engine's budget known, a prompt that would have been done
// before the step of its first token had it started at the predecessor bound started
// later (here the engine held it: no free sequence slot), and a full step gives no chunk.
func TestChunkedBudget(t *testing.T) {
	s := unitStream()
	for i := 0; i < 6; i++ {
		st, en := stepBounds(i)
		s.step(st, en, false)
	}
	// A: 100 prompt tokens (usage), alone in S0.
	s.streamedUsage(1, "a", 1*ms, 100, after(0), after(1), after(2), after(3), after(4), after(5))
	// B: 50 prompt tokens, arrived during S0; budget 64 less A's decode leaves 63 a step,
	// so B could not have waited until S4 unless something held it: it started in S3.
	s.streamedUsage(2, "b", 5*ms, 50, after(3), after(4), after(5))
	for _, tc := range []struct {
		budget int
		queue  float64
	}{{0, 13 - 5}, {64, 35 - 5}} {
		_, out := s.run(t, Options{ChunkedPrefill: true, MaxNumBatchedTokens: tc.budget})
		b := byID(out.reqs)["b"]
		if b == nil || b.Queue == nil || abs(*b.Queue*1e3-tc.queue) > 1e-6 {
			t.Errorf("budget %d: b queue %v ms, want %.0f", tc.budget, msOf(b.Queue), tc.queue)
		}
	}
	// A sequence limit of 1: B cannot start while A runs in every step up to S5.
	_, out := s.run(t, Options{ChunkedPrefill: true, MaxNumSeqs: 1})
	if b := byID(out.reqs)["b"]; b.Queue == nil || abs(*b.Queue*1e3-(35-5)) > 1e-6 {
		t.Errorf("max seqs 1: b queue %v ms, want 30", msOf(b.Queue))
	}
}

// streamedUsage is streamed with a final usage chunk reporting prompt tokens.
func (s *stream) streamedUsage(conn uint64, id string, arrival uint64, prompt int, writes ...uint64) {
	s.sock(arrival-1000, conn, event.OpAccept, "")
	s.sock(arrival, conn, event.OpRead, streamReq)
	for i, w := range writes {
		b := sse(id, fmt.Sprintf("t%d", i))
		if i == 0 {
			b = sseHead + b
		}
		if i == len(writes)-1 {
			b += chunk(fmt.Sprintf(`data: {"id":"%s","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`+"\n\n",
				id, prompt, len(writes), prompt+len(writes)))
			b += chunk("data: [DONE]\n\n") + "0\r\n\r\n"
		}
		s.sock(w, conn, event.OpWrite, b)
	}
}

// TestTokenStepsLagAndAbort: a front end that fell behind writes two steps' tokens after
// the second ended, and they still count one per step; one that writes a step's tokens
// in two writes counts that step once; a request the client aborted counts in the steps
// that started before the client left (the engine generated for it until the abort
// reached it), though those tokens were never written.
func TestTokenStepsLagAndAbort(t *testing.T) {
	s := unitStream()
	for i := 0; i < 5; i++ {
		st, en := stepBounds(i)
		s.step(st, en, false)
	}
	// A's tokens of S1 and S2 both leave after S2 ended.
	_, e2 := stepBounds(2)
	s.streamed(1, "a", 1*ms, after(0), e2+100_000, e2+150_000, after(3), after(4))
	// B: tokens of S0 and S1 written; the client leaves at 30 ms, while S2 runs.
	s.streamed(2, "b", 1*ms+500, after(0), after(1))
	s.evs = s.evs[:len(s.evs)-1] // no [DONE]: the last write is a plain token
	s.sock(after(1), 2, event.OpWrite, sse("b", "t1"))
	s.sock(30*ms, 2, event.OpRead, "")
	// C's front end writes S1's tokens for it in two writes (as with speculative
	// decoding): one step, counted once, and S0 keeps C's first token.
	s.streamed(3, "c", 1*ms+700, after(0), after(1), after(1)+50_000, after(2))

	_, out := s.run(t, Options{})
	want := []int{3, 3, 3, 1, 1}
	if len(out.steps) != len(want) {
		t.Fatalf("got %d steps", len(out.steps))
	}
	for i, st := range out.steps {
		if st.BatchSize == nil || *st.BatchSize != want[i] {
			t.Errorf("step %d: batch %v, want %d", i, deref(st.BatchSize), want[i])
		}
	}
	if b := byID(out.reqs)["b"]; b == nil || b.Class != ClassAborted {
		t.Errorf("b = %+v", b)
	}
	if c := byID(out.reqs)["c"]; c == nil || c.PrefillStep == nil || *c.PrefillStep != out.steps[0].ID {
		t.Errorf("c = %+v", c)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func msOf(p *float64) any {
	if p == nil {
		return nil
	}
	return *p * 1e3
}

// TestChunkedWaitsForEarlier: with chunked prefill a request is finalized only once the
// requests that arrived before its first token's step have ended (their tokens make the
// decode counts its placement reads), or OrderWait after its end.
func TestChunkedWaitsForEarlier(t *testing.T) {
	s := unitStream()
	for i := 0; i < 4; i++ {
		st, en := stepBounds(i)
		s.step(st, en, false)
	}
	s.streamed(1, "a", 1*ms, after(0), after(1), after(2), after(3))
	s.streamed(2, "b", 5*ms, after(1))
	sortEvents(s.evs)
	for _, tc := range []struct {
		wait     uint64 // Options.OrderWait, ms
		emitted  int    // requests out at 1 s, with A still open
		firstOut string
	}{{0, 0, ""}, {300, 1, "b"}} {
		var out collect
		c, err := New(Options{ChunkedPrefill: true, OrderWait: time.Duration(tc.wait) * time.Millisecond}, &out)
		if err != nil {
			t.Fatal(err)
		}
		// Everything but A's last write ([DONE]).
		for _, e := range s.evs[:len(s.evs)-1] {
			c.Feed(e)
		}
		c.Advance(1e9)
		if len(out.reqs) != tc.emitted || tc.emitted > 0 && out.reqs[0].ID != tc.firstOut {
			t.Errorf("order wait %d ms: %d requests out before A ended, want %d", tc.wait, len(out.reqs), tc.emitted)
		}
		c.Feed(s.evs[len(s.evs)-1])
		c.Advance(3e9)
		if len(out.reqs) != 2 {
			t.Errorf("order wait %d ms: %d requests out after A ended", tc.wait, len(out.reqs))
		}
	}
}
