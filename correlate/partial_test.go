package correlate

import (
	"fmt"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Attached while a request was streaming: its connection's first bytes are a chunk of its
// event stream. It is running from the first write seen, its tokens count toward the
// steps' batch sizes and the unit's token stream, and its record is partial, with every
// figure that needs its arrival null. A request that arrives afterwards on another
// connection is whole.
func TestCorrelatorPartialRequest(t *testing.T) {
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine"})
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	// Steps every 10 ms from 2 ms; the partial P (conn 1) gets a token from each of the
	// 6 steps; B (conn 2) arrives at 25 ms and gets tokens from steps 3, 4 and 5.
	var snapRunning, snapPartial int
	for i := range 6 {
		start, end := uint64(2+10*i)*ms, uint64(10+10*i)*ms
		s.step(start, end, i > 0)
		w := end + 200_000
		s.sock(w, 1, event.OpWrite, sse("cmpl-p", fmt.Sprintf("p%d", i)))
		switch {
		case i == 2:
			s.sock(25*ms, 2, event.OpAccept, "")
			s.sock(25*ms+1000, 2, event.OpRead, streamReq)
		case i == 3:
			s.sock(w+1000, 2, event.OpWrite, head+sse("cmpl-b", "b0"))
		case i > 3:
			s.sock(w+1000, 2, event.OpWrite, sse("cmpl-b", fmt.Sprintf("b%d", i)))
		}
	}
	s.sock(61*ms, 1, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")
	s.sock(62*ms, 2, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")

	var out collect
	c, err := New(Options{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.evs {
		c.Feed(e)
		if e.Hdr().TS == 50*ms+201_000 { // after B's second token
			for _, u := range c.Snapshot(e.Hdr().TS) {
				if u.Unit == "api:8000" {
					snapRunning, snapPartial = u.Running, u.Partial
				}
			}
		}
	}
	snap := c.Snapshot(62 * ms)
	c.Close()
	if snapRunning != 2 || snapPartial != 1 {
		t.Errorf("running %d, partial %d mid-way; want 2 and 1", snapRunning, snapPartial)
	}
	if len(snap) != 1 || snap[0].OutputTokens != 6+3 || snap[0].Running != 0 {
		t.Errorf("snapshot at the end: %+v", snap)
	}
	if len(out.reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(out.reqs))
	}
	byID := map[string]*Request{}
	for _, r := range out.reqs {
		byID[r.ID] = r
	}
	p, b := byID["cmpl-p"], byID["cmpl-b"]
	if p == nil || b == nil {
		t.Fatalf("requests %v", byID)
	}
	if !p.Partial || p.JoinedNS != 10*ms+200_000 || p.ArrivalNS != nil || p.TTFT != nil || p.Queue != nil || p.Prefill != nil ||
		p.Decode != nil || p.E2E != nil || p.TPOT != nil || p.FirstTokenNS != nil || p.PrefillStep != nil ||
		p.Class != ClassOK || p.Status != nil || valueOr(p.OutputTokens, 0) != 6 || p.TokensFrom != "events" || len(p.ITL) != 5 {
		t.Errorf("partial record: %+v", *p)
	}
	if b.Partial || b.ArrivalNS == nil || *b.ArrivalNS != 25*ms+1000 || b.TTFT == nil || b.PrefillStep == nil || *b.PrefillStep != out.steps[3].ID {
		t.Errorf("whole record: %+v", *b)
	}
	want := []int{1, 1, 1, 2, 2, 2}
	if len(out.steps) != len(want) {
		t.Fatalf("%d steps", len(out.steps))
	}
	for i, st := range out.steps {
		if st.BatchSize == nil || *st.BatchSize != want[i] {
			t.Errorf("step %d batch %v, want %d", i, st.BatchSize, want[i])
		}
	}
}

// The front end is killed mid-response: no close call is seen (the kernel closes its
// sockets), so the exit ends the request, as server_closed, at the exit.
func TestCorrelatorServerKilled(t *testing.T) {
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}})
	s.sock(ms, 1, event.OpAccept, "")
	s.sock(2*ms, 1, event.OpRead, streamReq)
	s.sock(3*ms, 1, event.OpWrite, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+sse("cmpl-k", "a"))
	s.evs = append(s.evs, &event.Proc{Header: event.Header{TS: 4 * ms, PID: 10, TID: 12}, Op: event.ProcExit, Code: 9})
	c, out := s.run(t, Options{})
	if len(out.reqs) != 1 || out.reqs[0].Class != ClassServerClosed || out.reqs[0].EndNS != 4*ms || valueOr(out.reqs[0].OutputTokens, 0) != 1 {
		t.Fatalf("records %+v", out.reqs)
	}
	if ex := c.Exits(); len(ex) != 1 || ex[0].PID != 10 || ex[0].Unit != "api:8000" || ex[0].Comm != "api" || ex[0].TS != 4*ms || ex[0].How() != "killed by SIGKILL" {
		t.Fatalf("exits %+v", ex)
	}
	if h := (Exit{Status: 3 << 8}).How(); h != "exited with status 3" {
		t.Errorf("status 3: %q", h)
	}
}

// Attached while a request was queued: the first bytes of its connection are its
// response head. Its first token, decode and TPOT are measured; its TTFT and queue stay
// null, and its first token's step is its prefill step.
func TestCorrelatorPartialQueued(t *testing.T) {
	var s stream
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine"})
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	var writes []uint64
	for i := range 4 {
		start, end := uint64(2+10*i)*ms, uint64(10+10*i)*ms
		s.step(start, end, i > 0)
		w := end + 200_000
		data := sse("cmpl-q", fmt.Sprintf("q%d", i))
		if i == 0 {
			data = head + data
		}
		s.sock(w, 5, event.OpWrite, data)
		writes = append(writes, w)
	}
	s.sock(41*ms, 5, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")
	_, out := s.run(t, Options{})
	if len(out.reqs) != 1 || len(out.steps) != 4 {
		t.Fatalf("%d requests, %d steps", len(out.reqs), len(out.steps))
	}
	r := out.reqs[0]
	tpot := float64(writes[3]-writes[0]) / 1e9 / 3
	if !r.Partial || r.Status == nil || *r.Status != 200 || r.FirstTokenNS == nil || *r.FirstTokenNS != writes[0] ||
		r.TTFT != nil || r.Queue != nil || r.ArrivalNS != nil || r.TPOT == nil || *r.TPOT != tpot ||
		r.Decode == nil || *r.Decode != float64(41*ms-writes[0])/1e9 || r.PrefillStep == nil || *r.PrefillStep != out.steps[0].ID {
		t.Errorf("record %+v", *r)
	}
	for i, st := range out.steps {
		if st.BatchSize == nil || *st.BatchSize != 1 {
			t.Errorf("step %d batch %v", i, st.BatchSize)
		}
	}
}
