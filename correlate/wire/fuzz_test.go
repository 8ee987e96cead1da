package wire

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// The fuzz targets check that no input panics, that the parsers keep their invariants
// on any input, and that on input they accept whole, splitting it anywhere changes
// nothing. Seeds: every fixture.

func FuzzRequestParser(f *testing.F) {
	reqs, _, _ := allFixtures()
	for i, r := range reqs {
		f.Add([]byte(r), uint16(i*7), uint16(len(r)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, capN uint16) {
		whole := reqFeed(Bytes(data))
		if whole.ends > whole.begins || whole.begins > whole.ends+1 {
			t.Fatalf("begins %d ends %d", whole.begins, whole.ends)
		}
		if whole.err == nil {
			i := int(split) % (len(data) + 1)
			if s := reqFeed(Bytes(data[:i]), Bytes(data[i:])); s.String() != whole.String() {
				t.Fatalf("split at %d: %v\nwhole: %v", i, s, whole)
			}
		}
		// The same bytes moved by one syscall of which only a prefix and a tail were captured.
		c := int(capN) % (len(data) + 1)
		tail := data[max(c, len(data)-16):]
		s := reqFeed(Truncated(data[:c], tail, int64(len(data))), Bytes(data))
		if s.ends > s.begins || s.begins > s.ends+1 {
			t.Fatalf("truncated: begins %d ends %d", s.begins, s.ends)
		}
	})
}

func FuzzResponseParser(f *testing.F) {
	_, resps, _ := allFixtures()
	for i, r := range resps {
		f.Add([]byte(r), uint16(i*13), uint16(len(r)/3), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, split, capN uint16, head bool) {
		methods := []string{"POST"}
		if head {
			methods = []string{"HEAD", "POST"}
		}
		whole := respFeed(methods, true, Bytes(data))
		if whole.ends > whole.heads || whole.heads > whole.ends+1 {
			t.Fatalf("heads %d ends %d", whole.heads, whole.ends)
		}
		if whole.err == nil {
			i := int(split) % (len(data) + 1)
			if s := respFeed(methods, true, Bytes(data[:i]), Bytes(data[i:])); s.String() != whole.String() {
				t.Fatalf("split at %d: %v\nwhole: %v", i, s, whole)
			}
		}
		c := int(capN) % (len(data) + 1)
		tail := data[max(c, len(data)-32):]
		s := respFeed(methods, true, Truncated(data[:c], tail, int64(len(data))), Bytes(data))
		if s.ends > s.heads || s.heads > s.ends+1 {
			t.Fatalf("truncated: heads %d ends %d", s.heads, s.ends)
		}
	})
}

func FuzzSSEParser(f *testing.F) {
	_, _, streams := allFixtures()
	for i, s := range streams {
		f.Add([]byte(s), uint16(i*31), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, capN uint16) {
		whole := sseWhole(string(data))
		i := int(split) % (len(data) + 1)
		var p SSEParser
		var s sseSummary
		s.add(p.Feed(Bytes(data[:i])))
		s.add(p.Feed(Bytes(data[i:])))
		s.add(p.End())
		if s != whole {
			t.Fatalf("split at %d: %+v\nwhole: %+v", i, s, whole)
		}
		// Uncaptured bytes never yield more events than the stream holds blank lines.
		c := int(capN) % (len(data) + 1)
		var q SSEParser
		var g sseSummary
		g.add(q.Feed(Truncated(data[:c], data[max(c, len(data)-24):], int64(len(data)))))
		g.add(q.End())
		n := 0
		for _, k := range g.kinds {
			n += k
		}
		if n > countBlankLines(data)+2 {
			t.Fatalf("%d events from a stream with %d blank lines", n, countBlankLines(data))
		}
	})
}

func countBlankLines(b []byte) int {
	n, prevNL := 0, false
	for _, c := range b {
		switch c {
		case '\n':
			if prevNL {
				n++
			}
			prevNL = true
		case '\r':
		default:
			prevNL = false
		}
	}
	return n
}

// FuzzTracker drives the Tracker with event sequences built from the input: each 4-byte
// record picks an operation, a connection, a payload (a piece of a fixture or of the
// input) and a capture limit. Every exchange that arrives must end exactly once, and the
// gauges a caller keeps from the hooks must return to zero.
func FuzzTracker(f *testing.F) {
	reqs, resps, _ := allFixtures()
	f.Add([]byte{0, 1, 0, 255, 1, 1, 0, 255, 2, 1, 3, 255, 4, 1, 0, 0})
	f.Add([]byte{5, 2, 1, 255, 0, 2, 1, 40, 0, 2, 1, 255, 1, 2, 7, 255, 3, 2, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := append(append([]string{}, reqs...), resps...)
		pool = append(pool, string(data))
		arrived, firsts, ended := 0, 0, 0
		seen := map[*Exchange]bool{}
		tr := NewTracker(Config{Hooks: Hooks{
			Arrived:      func(*Exchange) { arrived++ },
			FirstContent: func(*Exchange) { firsts++ },
			Ended: func(x *Exchange) {
				if seen[x] {
					t.Fatalf("exchange ended twice")
				}
				seen[x] = true
				ended++
			},
		}})
		var ts uint64
		for i := 0; i+4 <= len(data); i += 4 {
			op, conn, pick, capN := data[i]%8, uint64(data[i+1]%4), int(data[i+2]), int(data[i+3])*16+1
			ts += 1000
			e := &event.Sock{Header: event.Header{TS: ts, PID: 1, TID: 2}, Conn: conn}
			payload := pool[pick%len(pool)]
			if pick >= 128 && len(payload) > 0 { // a piece of it
				a := (pick * 7) % len(payload)
				payload = payload[a:]
			}
			switch op {
			case 0, 5:
				e.Op = event.OpRead
			case 1, 6:
				e.Op = event.OpWrite
			case 2:
				e.Op, e.Ret = event.OpRead, []int64{0, -104, -11}[pick%3]
			case 3:
				e.Op = event.OpClose
			case 4:
				e.Op = []event.SockOp{event.OpAccept, event.OpConnect}[pick%2]
			case 7:
				e.Op, e.Ret = event.OpWrite, -32
			}
			if (e.Op == event.OpRead || e.Op == event.OpWrite) && e.Ret == 0 && op != 2 {
				e = capture(e.Op, conn, payload, capN)
				e.TS, e.PID, e.TID = ts, 1, 2
			}
			tr.Feed(e)
		}
		tr.FlushAll()
		if arrived != ended || firsts > arrived || tr.Conns() != 0 {
			t.Fatalf("arrived %d, first content %d, ended %d, %d conns left", arrived, firsts, ended, tr.Conns())
		}
	})
}
