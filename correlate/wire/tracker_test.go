package wire

import (
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// script builds a time-ordered socket event stream; each call advances the clock by 1 ms.
type script struct {
	ts  uint64
	evs []*event.Sock
}

const (
	pidServer = 4242
	tidReader = 4250
	tidWriter = 4251
)

func (s *script) add(e *event.Sock) *event.Sock {
	s.ts += 1_000_000
	e.TS, e.Start = s.ts, s.ts-1000
	if e.PID == 0 {
		e.PID = pidServer
	}
	if e.Family == 0 {
		e.Family, e.LocalPort, e.RemotePort = event.FamilyInet, 8000, 50000+uint16(e.Conn%1000)
	}
	s.evs = append(s.evs, e)
	return e
}

func (s *script) accept(conn uint64) uint64 {
	return s.add(&event.Sock{Op: event.OpAccept, Syscall: event.SysAccept4, Conn: conn, Listener: 1, Ret: 9}).TS
}

func (s *script) connect(conn uint64) uint64 {
	return s.add(&event.Sock{Op: event.OpConnect, Syscall: event.SysConnect, Conn: conn}).TS
}

func (s *script) read(conn uint64, data string) uint64 {
	return s.add(&event.Sock{Header: event.Header{TID: tidReader}, Op: event.OpRead, Syscall: event.SysRecvfrom, Conn: conn, Ret: int64(len(data)), Data: []byte(data)}).TS
}

func (s *script) write(conn uint64, data string) uint64 {
	return s.add(&event.Sock{Header: event.Header{TID: tidWriter}, Op: event.OpWrite, Syscall: event.SysWritev, Conn: conn, Ret: int64(len(data)), Data: []byte(data)}).TS
}

// capture emulates the kernel side: the first n bytes, and the last 256 when more moved.
func capture(op event.SockOp, conn uint64, data string, n int) *event.Sock {
	e := &event.Sock{Op: op, Conn: conn, Ret: int64(len(data))}
	if len(data) <= n {
		e.Data = []byte(data)
		return e
	}
	e.Data = []byte(data[:n])
	e.Tail = []byte(data[max(n, len(data)-256):])
	return e
}

func (s *script) readErr(conn uint64, ret int64) uint64 {
	return s.add(&event.Sock{Op: event.OpRead, Syscall: event.SysRead, Conn: conn, Ret: ret}).TS
}

func (s *script) writeErr(conn uint64, errno int64) uint64 {
	return s.add(&event.Sock{Op: event.OpWrite, Syscall: event.SysWrite, Conn: conn, Ret: -errno}).TS
}

func (s *script) close(conn uint64) uint64 {
	return s.add(&event.Sock{Op: event.OpClose, Syscall: event.SysClose, Conn: conn}).TS
}

// run feeds the events to a tracker and collects the exchanges, in end order.
func (s *script) run(t *testing.T, cfg Config) (*Tracker, []*Exchange) {
	t.Helper()
	tr := NewTracker(cfg)
	var out []*Exchange
	for _, e := range s.evs {
		out = append(out, tr.Feed(e)...)
	}
	return tr, out
}

func one(t *testing.T, xs []*Exchange) *Exchange {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("%d exchanges, want 1", len(xs))
	}
	return xs[0]
}

func TestTrackerStreamed(t *testing.T) {
	for _, pattern := range []string{"h11", "go"} {
		t.Run(pattern, func(t *testing.T) {
			var s script
			s.accept(7)
			arrival := s.read(7, chatReq(true, 64))
			writes := h11Writes(vllmChatEvents(5))
			if pattern == "go" {
				writes = goWrites(vllmChatEvents(5))
			}
			var ts []uint64
			for _, w := range writes {
				ts = append(ts, s.write(7, w))
			}
			s.readErr(7, -11) // EAGAIN: nothing
			s.close(7)
			tr, xs := s.run(t, Config{})
			x := one(t, xs)
			// h11: head, role, 5 content, finish, usage, [DONE], 0; go: role+head, 5 content, ..., [DONE]+0.
			first := 2
			if pattern == "go" {
				first = 1
			}
			wantContent := ts[first : first+5]
			// The response completes with the last chunk: h11 writes it after [DONE].
			doneAt := ts[len(ts)-1]
			if x.ArrivalNS != arrival || x.RequestEndNS != arrival || x.PID != pidServer || x.TID != tidReader || x.Side != SideServer {
				t.Errorf("arrival %d/%d pid %d tid %d side %v", x.ArrivalNS, x.RequestEndNS, x.PID, x.TID, x.Side)
			}
			if x.Method != "POST" || x.Path != "/v1/chat/completions" || !x.Stream || x.MaxTokens != 64 || !x.HasMaxTokens {
				t.Errorf("request %s %s stream %v max %d", x.Method, x.Path, x.Stream, x.MaxTokens)
			}
			if x.Status != 200 || !x.SSE || x.ResponseID != vllmID || x.HeadNS != ts[0] {
				t.Errorf("response %d sse %v id %q head %d", x.Status, x.SSE, x.ResponseID, x.HeadNS)
			}
			if !equalTS(x.ContentWrites, wantContent) || x.ContentEvents != 5 || x.FirstContentNS() != wantContent[0] {
				t.Errorf("content writes %v (%d events), want %v", x.ContentWrites, x.ContentEvents, wantContent)
			}
			if x.Usage != (Usage{Prompt: 12, Completion: 5, Total: 17, Has: HasPrompt | HasCompletion | HasTotal}) {
				t.Errorf("usage %+v", x.Usage)
			}
			if x.EndNS != doneAt || x.End != EndComplete || x.Aborted || x.Degraded || !x.Done {
				t.Errorf("end %d (want %d) %v aborted %v degraded %v", x.EndNS, doneAt, x.End, x.Aborted, x.Degraded)
			}
			if tr.Conns() != 0 {
				t.Errorf("%d connections left after close", tr.Conns())
			}
		})
	}
}

func equalTS(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTrackerNonStreamedAndErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ctx    bool
		usage  Usage
		id     string
	}{
		{"ok", 200, vllmChatBody, false, Usage{9, 3, 12, HasPrompt | HasCompletion | HasTotal}, "chatcmpl-0a1b2c3d4e5f"},
		{"429", 429, rateBody, false, Usage{}, ""},
		{"400 context length", 400, vllmCtxBody, true, Usage{}, ""},
		{"400 other", 400, badTempBody, false, Usage{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			s.accept(3)
			arr := s.read(3, chatReq(false, 16))
			end := s.write(3, jsonResp(tc.status, "X", tc.body))
			_, xs := s.run(t, Config{})
			x := one(t, xs)
			if x.ArrivalNS != arr || x.EndNS != end || x.Status != tc.status || x.Stream || x.SSE || x.ContentEvents != 0 {
				t.Errorf("arrival %d end %d (want %d) status %d stream %v", x.ArrivalNS, x.EndNS, end, x.Status, x.Stream)
			}
			if x.ContextLength != tc.ctx || x.Usage != tc.usage || x.ResponseID != tc.id || x.Error != (tc.status >= 400) {
				t.Errorf("ctx %v usage %+v id %q error %v (%q)", x.ContextLength, x.Usage, x.ResponseID, x.Error, x.ErrorMessage)
			}
			if x.End != EndComplete || x.Aborted {
				t.Errorf("end %v", x.End)
			}
		})
	}
}

func TestTrackerAbort(t *testing.T) {
	for _, how := range []string{"eof", "epipe", "reset", "queued"} {
		t.Run(how, func(t *testing.T) {
			var s script
			s.accept(5)
			s.read(5, chatReq(true, 100))
			var content []uint64
			if how != "queued" {
				evs := vllmChatEvents(10)
				s.write(5, sseHead)
				for _, e := range evs[:4] { // role + 3 content
					if ts := s.write(5, chunk(e)); e != evs[0] {
						content = append(content, ts)
					}
				}
			}
			var at uint64
			switch how {
			case "eof", "queued":
				at = s.readErr(5, 0)
			case "epipe":
				at = s.writeErr(5, 32)
			case "reset":
				at = s.readErr(5, -104)
			}
			s.write(5, chunk(vllmChatEvents(10)[4])) // after the abort: ignored
			s.close(5)
			tr, xs := s.run(t, Config{})
			x := one(t, xs)
			if !x.Aborted || x.End != EndAbort || x.EndNS != at || !equalTS(x.ContentWrites, content) || x.Done {
				t.Errorf("aborted %v end %v at %d (want %d) content %v", x.Aborted, x.End, x.EndNS, at, x.ContentWrites)
			}
			if how == "queued" && x.Status != 0 {
				t.Errorf("status %d for a request aborted while queued", x.Status)
			}
			if how != "queued" && x.ResponseID != vllmID {
				t.Errorf("id %q of an aborted stream", x.ResponseID)
			}
			if st := tr.Stats(); st.Aborted != 1 || st.Exchanges != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestTrackerKeepAliveAndPipelining(t *testing.T) {
	var s script
	s.accept(9)
	a1 := s.read(9, chatReq(false, 1))
	e1 := s.write(9, jsonResp(200, "OK", vllmChatBody))
	a2 := s.read(9, chatReq(true, 2))
	var e2 uint64
	for _, w := range h11Writes(sglangChatEvents) {
		e2 = s.write(9, w) // the last chunk completes the response
	}
	// Two pipelined requests in one read, answered in order in one write and then another.
	a34 := s.read(9, chatReq(false, 3)+chatReq(false, 4))
	e3 := s.write(9, jsonResp(200, "OK", `{"id":"r3"}`)+jsonResp(200, "OK", `{"id":"r4"}`)[:30])
	e4 := s.write(9, jsonResp(200, "OK", `{"id":"r4"}`)[30:])
	s.close(9)
	_, xs := s.run(t, Config{})
	if len(xs) != 4 {
		t.Fatalf("%d exchanges, want 4", len(xs))
	}
	want := []struct {
		arr, end uint64
		max      int64
		id       string
	}{{a1, e1, 1, "chatcmpl-0a1b2c3d4e5f"}, {a2, e2, 2, "9f7c2b1e4d"}, {a34, e3, 3, "r3"}, {a34, e4, 4, "r4"}}
	for i, w := range want {
		x := xs[i]
		if x.ArrivalNS != w.arr || x.EndNS != w.end || x.MaxTokens != w.max || x.ResponseID != w.id || x.End != EndComplete {
			t.Errorf("exchange %d: arrival %d end %d max %d id %q %v, want %+v", i, x.ArrivalNS, x.EndNS, x.MaxTokens, x.ResponseID, x.End, w)
		}
	}
	if xs[1].ContentEvents != 3 || len(xs[1].ContentWrites) != 3 {
		t.Errorf("sglang stream: %d content events in %d writes", xs[1].ContentEvents, len(xs[1].ContentWrites))
	}
}

func TestTrackerHooks(t *testing.T) {
	var s script
	for c := uint64(1); c <= 3; c++ {
		s.accept(c)
		s.read(c, chatReq(true, 8))
	}
	s.write(1, sseHead)
	s.write(1, chunk(vllmChatEvents(1)[1]))
	s.write(2, sseHead)
	var waiting, running, maxWaiting, ended int
	var waitingAfter []int
	cfg := Config{Hooks: Hooks{
		Arrived:      func(*Exchange) { waiting++; maxWaiting = max(maxWaiting, waiting) },
		FirstContent: func(*Exchange) { waiting--; running++ },
		Ended: func(x *Exchange) {
			ended++
			if x.FirstContentNS() == 0 {
				waiting--
			} else {
				running--
			}
		},
	}}
	tr := NewTracker(cfg)
	for _, e := range s.evs {
		tr.Feed(e)
		waitingAfter = append(waitingAfter, waiting)
	}
	if maxWaiting != 3 || waiting != 2 || running != 1 || ended != 0 {
		t.Errorf("waiting %d (max %d) running %d ended %d", waiting, maxWaiting, running, ended)
	}
	xs := tr.FlushAll()
	if len(xs) != 3 || waiting != 0 || running != 0 || ended != 3 {
		t.Errorf("after FlushAll: %d exchanges, waiting %d running %d", len(xs), waiting, running)
	}
	for _, x := range xs {
		if x.End != EndFlushed {
			t.Errorf("flushed exchange ended %v", x.End)
		}
	}
}

func TestTrackerIgnoresOtherProtocols(t *testing.T) {
	var s script
	zmq := "\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL" + strings.Repeat("\x00", 52)
	s.accept(11)
	s.read(11, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
	s.accept(12)
	s.read(12, zmq)
	s.connect(13)
	s.write(13, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	s.accept(14)
	s.read(14, "\x00\x00\x01\x00NCCL garbage")
	for range 100 { // later traffic on ignored connections
		s.read(12, "POST / HTTP/1.1\r\n\r\n")
		s.write(13, "HTTP/1.1 200 OK\r\n\r\n")
	}
	tr, xs := s.run(t, Config{})
	st := tr.Stats()
	if len(xs) != 0 || st.Ignored[ProtoTLS] != 1 || st.Ignored[ProtoZMQ] != 1 || st.Ignored[ProtoHTTP2] != 1 ||
		st.Ignored[ProtoBinary] != 1 || st.HTTPConns != 0 {
		t.Errorf("%d exchanges, stats %+v", len(xs), st)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
