package wire

import (
	"fmt"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Joining a live keep-alive connection: the tracker is started at every byte offset of a
// recorded exchange sequence (streamed responses of 1, 10 and 300 events, written the
// uvicorn way and the Go way, a non-streamed response between them). Every request whose
// request line comes after the join is found exactly once, whole; a streamed response
// joined at a write boundary is followed to its end as one partial exchange.

type liveCall struct {
	op   event.SockOp
	data string
	req  int // the request this call belongs to
	head bool
}

type liveReq struct {
	read, end int // call indexes: the request line's read, the response's last write
	content   int // content events of its response
	stream    bool
}

// tgiStream is a TGI-style stream of n token events, the last with the details.
func tgiStream(n int) []string {
	evs := make([]string, n)
	for i := range n {
		gen := "null"
		if i == n-1 {
			gen = `"done"`
		}
		evs[i] = fmt.Sprintf(`data:{"index":%d,"token":{"id":%d,"text":"t","special":false},"generated_text":%s}`+"\n\n", i+1, 100+i, gen)
	}
	return evs
}

func liveConversation() ([]liveCall, []liveReq) {
	var calls []liveCall
	var reqs []liveReq
	add := func(stream bool, content int, writes []string) {
		r := liveReq{read: len(calls), content: content, stream: stream}
		calls = append(calls, liveCall{op: event.OpRead, data: chatReq(stream, 300), req: len(reqs)})
		for i, w := range writes {
			calls = append(calls, liveCall{op: event.OpWrite, data: w, req: len(reqs), head: i == 0})
		}
		r.end = len(calls) - 1
		reqs = append(reqs, r)
	}
	add(true, 1, h11Writes(vllmChatEvents(1)))
	add(true, 10, goWrites(tgiStream(10)))
	add(false, 0, []string{jsonResp(200, "OK", vllmChatBody)})
	add(true, 300, h11Writes(tgiStream(300)))
	add(true, 3, goWrites(tgiStream(3)))
	return calls, reqs
}

func TestTrackerJoinAtEveryOffset(t *testing.T) {
	calls, reqs := liveConversation()
	total := 0
	for _, c := range calls {
		total += len(c.data)
	}
	for k, at, i := 0, 0, 0; k < total; k++ {
		for k >= at+len(calls[i].data) {
			at += len(calls[i].data)
			i++
		}
		off := k - at
		tr := NewTracker(Config{})
		var xs []*Exchange
		ts := make([]uint64, len(calls))
		for j := i; j < len(calls); j++ {
			d := calls[j].data
			if j == i {
				d = d[off:]
			}
			ts[j] = uint64(j+1) * 1_000_000
			e := &event.Sock{Header: event.Header{TS: ts[j], PID: pidServer, TID: tidReader}, Op: calls[j].op, Conn: 7,
				Ret: int64(len(d)), Data: []byte(d), Family: event.FamilyInet, LocalPort: 8000, RemotePort: 50007}
			xs = append(xs, tr.Feed(e)...)
		}
		xs = append(xs, tr.FlushAll()...)

		var partial []*Exchange
		found := map[uint64]*Exchange{}
		for _, x := range xs {
			if x.Partial {
				partial = append(partial, x)
				continue
			}
			if found[x.ArrivalNS] != nil {
				t.Fatalf("join at %d (call %d+%d): two exchanges arrived at %d", k, i, off, x.ArrivalNS)
			}
			found[x.ArrivalNS] = x
		}
		want := 0
		for n, r := range reqs {
			if r.read < i || r.read == i && off > 0 {
				continue
			}
			want++
			x := found[ts[r.read]]
			if x == nil {
				t.Fatalf("join at %d (call %d+%d): request %d not found; %d exchanges", k, i, off, n, len(xs))
			}
			if x.EndNS != ts[r.end] || x.ContentEvents != r.content || x.Stream != r.stream || x.Status != 200 || x.End != EndComplete {
				t.Fatalf("join at %d: request %d: end %d (want %d) content %d (want %d) stream %v status %d %v",
					k, n, x.EndNS, ts[r.end], x.ContentEvents, r.content, x.Stream, x.Status, x.End)
			}
		}
		if len(found) != want {
			t.Fatalf("join at %d (call %d+%d): %d whole exchanges, want %d", k, i, off, len(found), want)
		}
		// Joined at the start of a body write of a streamed response that carries an event: one
		// partial, to its end.
		c := calls[i]
		if off == 0 && c.op == event.OpWrite && !c.head && reqs[c.req].stream && strings.Contains(c.data, "data:") {
			r := reqs[c.req]
			left := 0
			for j := i; j <= r.end; j++ {
				left += countContent(calls[j].data)
			}
			if len(partial) != 1 || partial[0].EndNS != ts[r.end] || partial[0].JoinedNS != ts[i] || partial[0].ContentEvents != left {
				t.Fatalf("join at call %d: partials %d, want 1 ending at %d with %d content events: %+v", i, len(partial), ts[r.end], left, partial)
			}
		}
		if len(partial) > 1 {
			t.Fatalf("join at %d: %d partial exchanges", k, len(partial))
		}
	}
}

// countContent counts the content events in a piece of a stream.
func countContent(s string) int {
	n := 0
	for _, line := range splitLines(s) {
		if len(line) > 5 && line[:5] == "data:" {
			if ev := ClassifyEvent(nil, []byte(line[5:])); ev.Kind == EventContent {
				n++
			}
		}
	}
	return n
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
