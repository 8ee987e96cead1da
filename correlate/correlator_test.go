package correlate

import (
	"fmt"
	"math"
	"testing"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/tracer/event"
)

const ms = uint64(1e6)

type collect struct {
	reqs   []*Request
	steps  []*Step
	errs   []gpustep.Error
	stalls []gpustep.Stall
}

func (c *collect) Request(r *Request)                  { c.reqs = append(c.reqs, r) }
func (c *collect) Step(s *Step)                        { c.steps = append(c.steps, s) }
func (c *collect) CUDAError(_ string, e gpustep.Error) { c.errs = append(c.errs, e) }
func (c *collect) Stall(_ string, s gpustep.Stall)     { c.stalls = append(c.stalls, s) }

// stream builds a synthetic event stream: an API server (pid 10) and its engine (pid 11).
type stream struct{ evs []event.Event }

func (s *stream) sock(ts uint64, conn uint64, op event.SockOp, data string) {
	s.evs = append(s.evs, &event.Sock{Header: event.Header{TS: ts, PID: 10, TID: 10}, Start: ts - 1000, Op: op,
		Conn: conn, FD: int32(conn), Family: event.FamilyInet, LocalPort: 8000, RemotePort: uint16(40000 + conn),
		Ret: int64(len(data)), Data: []byte(data)})
}

func (s *stream) cuda(ts uint64, call event.Call, ret bool) {
	s.evs = append(s.evs, &event.CUDA{Header: event.Header{TS: ts, PID: 11, TID: 11}, Call: call, Return: ret, Start: ts})
}

// step: launches at start (eager kernels or one graph), a blocking event sync that returns at end.
func (s *stream) step(start, end uint64, graph bool) {
	if graph {
		s.cuda(start, event.CallGraphLaunch, false)
	} else {
		for i := uint64(0); i < 4; i++ {
			s.cuda(start+i*1000, event.CallLaunchKernel, false)
		}
	}
	s.cuda(start+ms/2, event.CallEventSynchronize, false)
	s.evs = append(s.evs, &event.CUDA{Header: event.Header{TS: end, PID: 11, TID: 11}, Call: event.CallEventSynchronize, Return: true, Start: start + ms/2})
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

func sse(id string, text string) string {
	return chunk(fmt.Sprintf(`data: {"id":"%s","object":"text_completion","choices":[{"index":0,"text":"%s"}]}`+"\n\n", id, text))
}

const streamReq = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n{\"prompt\":\"hi there\",\"stream\":true,\"n\":1}  "

func TestCorrelatorAttribution(t *testing.T) {
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine"})
	// Steps: S0 prefill (A) 2-12 ms, S1 prefill (B) + decode A 13-23, S2 and S3 graph decode.
	bounds := [][2]uint64{{2, 12}, {13, 23}, {24, 34}, {35, 45}}
	// Request A, streamed, conn 1, arrives at 1 ms; request B, not streamed, conn 2, at 12.5 ms.
	s.sock(ms/2, 1, event.OpAccept, "")
	s.sock(1*ms, 1, event.OpRead, streamReq)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	for i, b := range bounds {
		s.step(b[0]*ms, b[1]*ms, i >= 2)
		w := b[1]*ms + 200_000
		if i == 0 {
			s.sock(w, 1, event.OpWrite, head+sse("cmpl-a", "t0"))
		} else {
			s.sock(w, 1, event.OpWrite, sse("cmpl-a", fmt.Sprintf("t%d", i)))
		}
		if i == 0 {
			s.sock(12*ms+ms/2, 2, event.OpAccept, "")
			s.sock(12*ms+ms/2+1000, 2, event.OpRead, "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
		}
	}
	s.sock(45*ms+300_000, 1, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")
	body := `{"id":"cmpl-b","object":"text_completion","choices":[{"text":"a b c"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}`
	s.sock(45*ms+400_000, 2, event.OpWrite, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	// A rejected request on conn 3.
	s.sock(46*ms, 3, event.OpAccept, "")
	s.sock(46*ms+1000, 3, event.OpRead, "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
	errBody := `{"object":"error","message":"This model's maximum context length is 2048 tokens.","code":400}`
	s.sock(46*ms+2000, 3, event.OpWrite, fmt.Sprintf("HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", len(errBody), errBody))

	_, out := s.run(t, Options{})

	if len(out.reqs) != 3 {
		t.Fatalf("got %d requests, want 3: %+v", len(out.reqs), out.reqs)
	}
	byID := map[string]*Request{}
	for _, r := range out.reqs {
		byID[r.ID] = r
	}
	a, b := byID["cmpl-a"], byID["cmpl-b"]
	if a == nil || b == nil {
		t.Fatalf("requests by id: %v", byID)
	}
	near := func(name string, got *float64, want float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > 1e-6 {
			t.Errorf("%s = %v, want %.6f", name, deref(got), want)
		}
	}
	// A: arrival 1 ms, first token 12.2 ms, prefill step S0 started at 2 ms.
	near("A ttft", a.TTFT, 0.0112)
	near("A queue", a.Queue, 0.001)
	near("A prefill", a.Prefill, 0.0102)
	near("A tpot", a.TPOT, (45.2-12.2)/3/1000)
	near("A decode", a.Decode, (45.3-12.2)/1000)
	if a.Estimated || a.TokensFrom != "events" || *a.OutputTokens != 4 || a.Class != ClassOK || !a.Stream || a.Unit != "api:8000" {
		t.Errorf("A = %+v", a)
	}
	// B: not streamed, 3 tokens from S1..S3, estimated first token at the end of S1.
	if !b.Estimated || b.TokensFrom != "usage" || *b.OutputTokens != 3 {
		t.Errorf("B = %+v", b)
	}
	near("B ttft", b.TTFT, (23-12.501)/1000)
	near("B queue", b.Queue, (13-12.501)/1000)
	if *b.PrefillStep != out.steps[1].ID {
		t.Errorf("B prefill step %d, want %d", *b.PrefillStep, out.steps[1].ID)
	}
	ctx := byID["inferprobe-1"]
	if ctx == nil || ctx.Class != ClassContextLength || *ctx.Status != 400 || ctx.TTFT != nil {
		t.Errorf("context-length request = %+v", ctx)
	}
	if len(out.steps) != 4 {
		t.Fatalf("got %d steps, want 4", len(out.steps))
	}
	wantBatch := []int{1, 2, 2, 2}
	wantKind := []string{"prefill", "prefill", "decode", "decode"}
	for i, st := range out.steps {
		if st.BatchSize == nil || *st.BatchSize != wantBatch[i] || st.Kind != wantKind[i] {
			t.Errorf("step %d: batch %v kind %s, want %d %s", i, deref(st.BatchSize), st.Kind, wantBatch[i], wantKind[i])
		}
		if st.StartNS != bounds[i][0]*ms || st.EndNS != bounds[i][1]*ms {
			t.Errorf("step %d: %d-%d", i, st.StartNS, st.EndNS)
		}
	}
	if out.steps[1].HostGap == nil || math.Abs(*out.steps[1].HostGap-0.001) > 1e-9 {
		t.Errorf("host gap of step 1 = %v", deref(out.steps[1].HostGap))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCorrelatorSnapshot(t *testing.T) {
	var out collect
	c, err := New(Options{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine", StartNS: 5})
	s.sock(1*ms, 1, event.OpAccept, "")
	s.sock(1*ms+10, 1, event.OpRead, streamReq)
	s.step(2*ms, 12*ms, false)
	s.cuda(13*ms, event.CallLaunchKernel, false)
	s.cuda(14*ms, event.CallStreamSynchronize, false) // in flight from 14 ms on
	for _, e := range s.evs {
		c.Feed(e)
	}
	snap := c.Snapshot(20 * ms)
	if len(snap) != 1 {
		t.Fatalf("snapshot = %+v", snap)
	}
	u := snap[0]
	if u.Unit != "api:8000" || u.Waiting != 1 || u.Running != 0 || u.LongestWaitNS != 6*ms || u.Stalled != 0 ||
		u.Launches != 5 || u.StartNS != 5 || len(u.PIDs) != 1 || u.PIDs[0] != 11 {
		t.Fatalf("snapshot = %+v", u)
	}
	if st := c.Snapshot(20*ms + 6e9); st[0].Stalled != 1 {
		t.Fatalf("a wait in flight past 5 s is not stalled: %+v", st[0])
	}
}

// A request still in flight when the stream ends has no end: it gets no record.
func TestCorrelatorUnfinishedAtClose(t *testing.T) {
	var out collect
	c, err := New(Options{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	var s stream
	s.evs = append(s.evs, &event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}})
	s.sock(1*ms, 1, event.OpAccept, "")
	s.sock(1*ms+10, 1, event.OpRead, streamReq)
	s.sock(2*ms, 2, event.OpAccept, "")
	s.sock(2*ms+10, 2, event.OpRead, "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
	s.sock(3*ms, 2, event.OpWrite, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\r\n{}")
	for _, e := range s.evs {
		c.Feed(e)
	}
	c.Close()
	if len(out.reqs) != 1 || out.reqs[0].Class != ClassRateLimited || c.Stats().Unfinished != 1 {
		t.Fatalf("records %+v, unfinished %d; want the 429 only and 1 unfinished", out.reqs, c.Stats().Unfinished)
	}
}
