package wire

import (
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Tracker cases at the edges: connections joined mid-stream, split request lines,
// outgoing hops, truncated captures, idle flushes, unix sockets, every way of ending.

// A connection open before the tracer started: the first bytes seen are the middle of a
// streamed response. It is joined as a partial exchange (no request, no arrival) that ends
// at its last chunk, and the next request is parsed from its request line.
func TestTrackerJoinMidStream(t *testing.T) {
	var s script
	joined := s.write(21, chunk(vllmChatEvents(1)[1])) // the tail of a response we never saw begin
	last := s.write(21, lastChunk)
	arr := s.read(21, chatReq(false, 5))
	end := s.write(21, jsonResp(200, "OK", vllmChatBody))
	tr, xs := s.run(t, Config{})
	if len(xs) != 2 {
		t.Fatalf("%d exchanges, want 2", len(xs))
	}
	p, x := xs[0], xs[1]
	if !p.Partial || p.ArrivalNS != 0 || p.JoinedNS != joined || p.SinceNS() != joined || p.EndNS != last ||
		p.End != EndComplete || p.ContentEvents != 1 || len(p.ContentWrites) != 1 || p.Side != SideServer {
		t.Errorf("partial: %+v", *p)
	}
	if x.Partial || x.ArrivalNS != arr || x.EndNS != end || x.Side != SideServer || x.Status != 200 {
		t.Errorf("arrival %d end %d side %v status %d partial %v", x.ArrivalNS, x.EndNS, x.Side, x.Status, x.Partial)
	}
	if st := tr.Stats(); st.HTTPConns != 1 || st.Joined != 1 || st.Partial != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A request line split over reads ("PO" then the rest) still arrives at the first read.
func TestTrackerSplitRequestLine(t *testing.T) {
	var s script
	s.accept(31)
	req := chatReq(true, 3)
	arr := s.read(31, req[:2])
	s.read(31, req[2:40])
	end := s.read(31, req[40:])
	s.write(31, strings.Join(goWrites(tgiEvents), ""))
	_, xs := s.run(t, Config{})
	x := one(t, xs)
	if x.ArrivalNS != arr || x.RequestEndNS != end || x.ContentEvents != 3 || x.Usage.Completion != 3 {
		t.Errorf("arrival %d (want %d) request end %d (want %d) content %d usage %+v", x.ArrivalNS, arr, x.RequestEndNS, end, x.ContentEvents, x.Usage)
	}
}

// An outgoing hop: the process connects, writes the request and reads the response.
func TestTrackerClientSide(t *testing.T) {
	var s script
	s.connect(41)
	arr := s.write(41, "POST /generate_stream HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"inputs\":\"hi\"}")
	s.read(41, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
	var reads []uint64
	for _, e := range tgiEvents {
		reads = append(reads, s.read(41, e))
	}
	eof := s.readErr(41, 0)
	s.close(41)
	_, xs := s.run(t, Config{})
	x := one(t, xs)
	if x.Side != SideClient || x.ArrivalNS != arr || !x.Stream || !equalTS(x.ContentWrites, reads) || x.EndNS != eof || x.End != EndClose || x.Aborted {
		t.Errorf("side %v arrival %d stream %v content %v end %d %v", x.Side, x.ArrivalNS, x.Stream, x.ContentWrites, x.EndNS, x.End)
	}
}

// The capture knob cut a request body and a response body: framing stays in step and
// usage comes from the tail.
func TestTrackerTruncatedCapture(t *testing.T) {
	var s script
	s.accept(51)
	body := `{"model":"m","prompt":"` + strings.Repeat("a", 10000) + `","max_tokens":7,"stream":false}`
	req := "POST /v1/completions HTTP/1.1\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	arr := s.add(capture(event.OpRead, 51, req, 4096)).TS
	resp := jsonResp(200, "OK", `{"id":"cmpl-t","choices":[{"text":"`+strings.Repeat("b", 9000)+`"}],"usage":{"prompt_tokens":2503,"total_tokens":2510,"completion_tokens":7}}`)
	end := s.add(capture(event.OpWrite, 51, resp, 4096)).TS
	arr2 := s.read(51, chatReq(false, 1))
	end2 := s.write(51, jsonResp(200, "OK", vllmChatBody))
	_, xs := s.run(t, Config{})
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	x := xs[0]
	if x.ArrivalNS != arr || x.EndNS != end || x.MaxTokens != 7 || x.Stream || x.ResponseID != "cmpl-t" ||
		x.Usage.Completion != 7 || x.Usage.Prompt != 2503 || x.Degraded {
		t.Errorf("truncated: arrival %d end %d max %d id %q usage %+v degraded %v", x.ArrivalNS, x.EndNS, x.MaxTokens, x.ResponseID, x.Usage, x.Degraded)
	}
	if xs[1].ArrivalNS != arr2 || xs[1].EndNS != end2 {
		t.Errorf("next exchange out of step: %d %d", xs[1].ArrivalNS, xs[1].EndNS)
	}
}

func TestTrackerFlushIdle(t *testing.T) {
	var s script
	s.accept(61)
	s.read(61, chatReq(true, 3))
	s.accept(62)
	s.read(62, "\x16\x03\x01")
	tr, _ := s.run(t, Config{IdleNS: 10e9})
	if xs := tr.Flush(s.ts + 5e9); len(xs) != 0 || tr.Conns() != 2 {
		t.Fatalf("flushed %d early, %d conns", len(xs), tr.Conns())
	}
	xs := tr.Flush(s.ts + 11e9)
	if len(xs) != 1 || xs[0].End != EndFlushed || tr.Conns() != 0 {
		t.Fatalf("flush: %d exchanges, %d conns", len(xs), tr.Conns())
	}
}

// A unix socket (no ports) and a 100-continue exchange.
func TestTrackerUnixContinue(t *testing.T) {
	var s script
	s.add(&event.Sock{Op: event.OpAccept, Conn: 71, Family: event.FamilyUnix, Ret: 5})
	head := "POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\n"
	arr := s.add(&event.Sock{Op: event.OpRead, Conn: 71, Family: event.FamilyUnix, Ret: int64(len(head)), Data: []byte(head)}).TS
	s.add(&event.Sock{Op: event.OpWrite, Conn: 71, Family: event.FamilyUnix, Ret: 25, Data: []byte("HTTP/1.1 100 Continue\r\n\r\n")})
	body := `{"stream":true}`
	rend := s.add(&event.Sock{Op: event.OpRead, Conn: 71, Family: event.FamilyUnix, Ret: int64(len(body)), Data: []byte(body)}).TS
	for _, w := range h11Writes(vllmCompletionEvents) {
		s.add(&event.Sock{Op: event.OpWrite, Conn: 71, Family: event.FamilyUnix, Ret: int64(len(w)), Data: []byte(w)})
	}
	_, xs := s.run(t, Config{})
	x := one(t, xs)
	if x.Family != event.FamilyUnix || x.LocalPort != 0 || x.ArrivalNS != arr || x.RequestEndNS != rend || !x.Stream ||
		x.Status != 200 || x.ContentEvents != 2 || x.ResponseID != "cmpl-5d1c9e0f2b3a4c6d" {
		t.Errorf("family %v arrival %d request end %d stream %v status %d content %d id %q",
			x.Family, x.ArrivalNS, x.RequestEndNS, x.Stream, x.Status, x.ContentEvents, x.ResponseID)
	}
}

// How an exchange ends when the connection goes away at various points.
func TestTrackerEnds(t *testing.T) {
	evs := vllmChatEvents(3) // role, 3 content, finish, usage, [DONE]
	for _, tc := range []struct {
		name    string
		side    Side
		after   int // events written before the end
		how     string
		want    EndReason
		aborted bool
	}{
		{"eof after [DONE] before the last chunk", SideServer, len(evs), "eof", EndComplete, false},
		{"server closes mid-stream", SideServer, 2, "close", EndLocalClose, false},
		{"client side closes mid-stream", SideClient, 2, "close", EndAbort, true},
		{"client side: server closes mid-stream", SideClient, 2, "eof", EndPeerClose, false},
		{"client side: reset", SideClient, 2, "reset", EndAbort, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			req, resp := s.read, s.write
			if tc.side == SideClient {
				s.connect(81)
				req, resp = s.write, s.read
			} else {
				s.accept(81)
			}
			req(81, chatReq(true, 3))
			resp(81, sseHead)
			var last uint64
			for _, e := range evs[:tc.after] {
				last = resp(81, chunk(e))
			}
			var at uint64
			switch tc.how {
			case "eof":
				at = s.readErr(81, 0)
			case "reset":
				at = s.readErr(81, -104)
			case "close":
				at = s.close(81)
			}
			s.close(81)
			_, xs := s.run(t, Config{})
			x := one(t, xs)
			wantAt := at
			if tc.want == EndComplete {
				wantAt = last
			}
			if x.End != tc.want || x.Aborted != tc.aborted || x.EndNS != wantAt || x.Side != tc.side {
				t.Errorf("end %v aborted %v at %d (want %v %v at %d) side %v", x.End, x.Aborted, x.EndNS, tc.want, tc.aborted, wantAt, x.Side)
			}
		})
	}
}

// A streamed response whose writes outgrow the capture: the exchange is degraded, keeps
// counting after the gap and still ends at [DONE].
func TestTrackerStreamGap(t *testing.T) {
	var s script
	s.accept(91)
	s.read(91, chatReq(true, 40))
	evs := vllmChatEvents(40)
	s.write(91, sseHead+chunk(evs[0]))
	var big strings.Builder
	for _, e := range evs[1:31] { // 30 content events coalesced into one write
		big.WriteString(chunk(e))
	}
	s.add(capture(event.OpWrite, 91, big.String(), 4096))
	var last uint64
	for _, e := range evs[31:] {
		last = s.write(91, chunk(e))
	}
	last = s.write(91, lastChunk)
	s.write(91, "garbage that is not a response\r\n")
	s.read(91, chatReq(false, 1))
	end2 := s.write(91, jsonResp(200, "OK", vllmChatBody))
	tr, xs := s.run(t, Config{})
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	x := xs[0]
	if !x.Degraded || x.End != EndComplete || x.EndNS != last || x.Usage.Completion != 40 || x.ContentEvents < 10+1 || x.ContentEvents >= 40 {
		t.Errorf("degraded %v end %v at %d (want %d) usage %+v content %d", x.Degraded, x.End, x.EndNS, last, x.Usage, x.ContentEvents)
	}
	if xs[1].EndNS != end2 || xs[1].Status != 200 || tr.Stats().ParseErrors != 1 {
		t.Errorf("after garbage: end %d status %d stats %+v", xs[1].EndNS, xs[1].Status, tr.Stats())
	}
}

// A websocket upgrade ends the exchange and the connection stops being parsed; TGI's
// /generate_stream path means a stream whatever the body says.
func TestTrackerUpgradeAndStreamPath(t *testing.T) {
	var s script
	s.accept(101)
	s.read(101, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	up := s.write(101, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	s.read(101, "\x81\x85garbage frames")
	s.accept(102)
	s.read(102, "POST /generate_stream?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
	s.write(102, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "+itoa(len(tgiEvents[0]))+"\r\n\r\n"+tgiEvents[0])
	tr, xs := s.run(t, Config{})
	if len(xs) != 2 || xs[0].Status != 101 || xs[0].EndNS != up || xs[0].End != EndComplete {
		t.Fatalf("upgrade: %d exchanges, first %+v", len(xs), xs[0])
	}
	if !xs[1].Stream || xs[1].ContentEvents != 1 || tr.Stats().ParseErrors != 0 {
		t.Errorf("generate_stream: stream %v content %d stats %+v", xs[1].Stream, xs[1].ContentEvents, tr.Stats())
	}
}

func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		ProtoZMQ.String(): "zmq", Proto(99).String(): "proto?",
		SideServer.String(): "server", SideClient.String(): "client", Side(9).String(): "unknown",
		EndAbort.String(): "abort", EndReason(99).String(): "end?",
		EventUsage.String(): "usage", EventKind(99).String(): "kind?",
	} {
		if got != want {
			t.Errorf("name %q, want %q", got, want)
		}
	}
}

// Attached while a request was queued: its request was read before the attach, so the
// first bytes seen on the connection are its response head. It is a partial exchange
// with its status, and the next request is whole.
func TestTrackerJoinBeforeHead(t *testing.T) {
	var s script
	ws := goWrites(tgiEvents)
	joined := s.write(22, ws[0])
	s.write(22, ws[1])
	last := s.write(22, ws[2])
	arr := s.read(22, chatReq(false, 5))
	end := s.write(22, jsonResp(200, "OK", vllmChatBody))
	_, xs := s.run(t, Config{})
	if len(xs) != 2 {
		t.Fatalf("%d exchanges, want 2", len(xs))
	}
	p, x := xs[0], xs[1]
	if !p.Partial || p.JoinedNS != joined || p.HeadNS != joined || p.Status != 200 || p.EndNS != last || p.ContentEvents != 3 || p.Usage.Completion != 3 {
		t.Errorf("partial: %+v", *p)
	}
	if x.Partial || x.ArrivalNS != arr || x.EndNS != end {
		t.Errorf("next: %+v", *x)
	}
}

// EachConn: a connection met mid-message is unsynced until binaryAfter fragments have
// shown no message start, then binary; it still joins HTTP when a request line comes.
func TestTrackerEachConnStates(t *testing.T) {
	tr := NewTracker(Config{})
	states := func() map[string]int {
		m := map[string]int{}
		tr.EachConn(func(_ uint32, st string) { m[st]++ })
		return m
	}
	feed := func(op event.SockOp, data string) {
		tr.Feed(&event.Sock{Header: event.Header{TS: 1, PID: pidServer}, Op: op, Conn: 9, Ret: int64(len(data)), Data: []byte(data)})
	}
	feed(event.OpRead, "\x00\x01binary frame")
	if st := states(); st[ConnUnsynced] != 1 {
		t.Fatalf("after one fragment: %v", st)
	}
	for range binaryAfter {
		feed(event.OpWrite, "\x02\x03more")
	}
	if st := states(); st["binary"] != 1 || st[ConnUnsynced] != 0 {
		t.Fatalf("after %d fragments: %v", binaryAfter+1, st)
	}
	feed(event.OpRead, chatReq(false, 3))
	if st := states(); st[ConnHTTP] != 1 {
		t.Fatalf("after a request line: %v", st)
	}
}
