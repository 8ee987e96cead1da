package correlate

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Replay skips what is not an event: a corrupt line in the middle is reported with its
// number and the replay goes past it; a cut-off last line is reported as torn.
func TestReplaySkipsBadLines(t *testing.T) {
	var s stream
	s.evs = append(s.evs, &event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}})
	s.sock(ms, 1, event.OpAccept, "")
	s.sock(2*ms, 1, event.OpRead, streamReq)
	s.sock(3*ms, 1, event.OpWrite, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+sse("cmpl-r", "a"))
	s.sock(4*ms, 1, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")
	for _, e := range s.evs { // the codec wants the syscall of a socket event
		if v, ok := e.(*event.Sock); ok {
			v.Syscall = map[event.SockOp]event.Syscall{event.OpAccept: event.SysAccept4, event.OpRead: event.SysRecvfrom, event.OpWrite: event.SysWritev}[v.Op]
		}
	}
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	for i, e := range s.evs {
		if i == 2 {
			buf.WriteString("{\"type\":\"sock\",\"ts\":\n") // line 3: corrupt
		}
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	buf.WriteString(`{"type":"sock","ts":5000000,"op":"wr`) // torn: line 7
	var out collect
	st, err := Replay(&buf, Options{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 5 || st.Torn != 7 || len(st.Corrupt) != 1 || st.Corrupt[0].Line != 3 {
		t.Errorf("stats %+v", st)
	}
	if len(out.reqs) != 1 || out.reqs[0].ID != "cmpl-r" {
		t.Errorf("records %+v", out.reqs)
	}
	_, err = Replay(strings.NewReader("nothing\nat all\n"), Options{}, &collect{})
	if !errors.Is(err, ErrNoEvents) {
		t.Errorf("garbage: %v, want ErrNoEvents", err)
	}
}
