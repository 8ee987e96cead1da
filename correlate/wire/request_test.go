package wire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// reqSummary is what a request stream parsed into, for comparing ways of feeding it.
type reqSummary struct {
	begins, ends int
	lines        []string
	err          error
}

func (s *reqSummary) add(evs []ReqEvent, err error) {
	for _, ev := range evs {
		switch ev.Kind {
		case ReqBegin:
			s.begins++
		case ReqEnd:
			s.ends++
			r := ev.Req
			s.lines = append(s.lines, fmt.Sprintf("%s %s cl=%d chunked=%v expect=%v stream=%v/%v max=%d/%v body=%d lost=%v degraded=%v",
				r.Method, r.Path, r.ContentLength, r.Chunked, r.Expect100, r.Body.Stream, r.Body.HasStream,
				r.Body.MaxTokens, r.Body.HasMaxTokens, r.BodyLen, r.Lost, r.Degraded))
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
}

func (s reqSummary) String() string {
	return fmt.Sprintf("begins=%d ends=%d err=%v\n  %s", s.begins, s.ends, s.err, strings.Join(s.lines, "\n  "))
}

func reqFeed(frags ...Fragment) reqSummary {
	var p RequestParser
	var s reqSummary
	for _, f := range frags {
		s.add(p.Feed(f))
	}
	return s
}

func TestRequestParser(t *testing.T) {
	tgiBody := `{"inputs":"hi","parameters":{"max_new_tokens":20}}`
	bodyLen := func(req string) int { return len(req) - strings.Index(req, "\r\n\r\n") - 4 }
	n64, n8, n9 := bodyLen(chatReq(true, 64)), bodyLen(chatReq(true, 8)), bodyLen(chatReq(false, 9))
	for _, tc := range []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"streamed chat", chatReq(true, 64), []string{
			fmt.Sprintf("POST /v1/chat/completions cl=%d chunked=false expect=false stream=true/true max=64/true body=%d lost=false degraded=false", n64, n64)}, nil},
		{"get", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", []string{
			"GET /health cl=-1 chunked=false expect=false stream=false/false max=0/false body=0 lost=false degraded=false"}, nil},
		{"chunked body", "POST /generate_stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(tgiBody[:10]) + chunk(tgiBody[10:]) + "0;ext=1\r\nX-Trailer: y\r\n\r\n", []string{
			fmt.Sprintf("POST /generate_stream cl=-1 chunked=true expect=false stream=false/false max=20/true body=%d lost=false degraded=false",
				len(chunk(tgiBody[:10])+chunk(tgiBody[10:]))+len("0;ext=1\r\nX-Trailer: y\r\n\r\n"))}, nil},
		{"expect 100-continue", "POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\n{\"stream\":true}", []string{
			"POST /v1/completions cl=15 chunked=false expect=true stream=true/true max=0/false body=15 lost=false degraded=false"}, nil},
		{"pipelined", chatReq(true, 8) + "\r\n" + chatReq(false, 9) + "GET /metrics HTTP/1.0\r\n\r\n", []string{
			fmt.Sprintf("POST /v1/chat/completions cl=%d chunked=false expect=false stream=true/true max=8/true body=%d lost=false degraded=false", n8, n8),
			fmt.Sprintf("POST /v1/chat/completions cl=%d chunked=false expect=false stream=false/true max=9/true body=%d lost=false degraded=false", n9, n9),
			"GET /metrics cl=-1 chunked=false expect=false stream=false/false max=0/false body=0 lost=false degraded=false"}, nil},
		{"garbage", "\x00\x01\x02garbage", nil, ErrNotHTTP},
		{"lowercase method", "get / HTTP/1.1\r\n\r\n", nil, ErrNotHTTP},
		{"bad version", "GET / HTTP/2.0\r\n\r\n", nil, ErrNotHTTP},
		{"bad content-length", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", []string{
			"POST / cl=-1 chunked=false expect=false stream=false/false max=0/false body=0 lost=true degraded=true"}, ErrMalformed},
		{"bad chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", []string{
			"POST / cl=-1 chunked=true expect=false stream=false/false max=0/false body=0 lost=true degraded=true"}, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole := reqFeed(Bytes([]byte(tc.in)))
			if !errors.Is(whole.err, tc.err) || strings.Join(whole.lines, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %v\nwant err=%v\n  %s", whole, tc.err, strings.Join(tc.want, "\n  "))
			}
			if tc.err != nil {
				return
			}
			for i := 0; i <= len(tc.in); i++ {
				if s := reqFeed(Bytes([]byte(tc.in[:i])), Bytes([]byte(tc.in[i:]))); s.String() != whole.String() {
					t.Fatalf("split at %d: %v\nwhole: %v", i, s, whole)
				}
			}
			var frags []Fragment
			for i := range len(tc.in) {
				frags = append(frags, Bytes([]byte(tc.in[i:i+1])))
			}
			if s := reqFeed(frags...); s.String() != whole.String() {
				t.Fatalf("byte by byte: %v\nwhole: %v", s, whole)
			}
		})
	}
}

// A body longer than the capture: framing follows the true length, stream and max_tokens
// come from the head or, when the head was cut before them, from the tail.
func TestRequestTruncated(t *testing.T) {
	prompt := strings.Repeat("lorem ipsum ", 2000)
	body := `{"model":"m","messages":[{"role":"user","content":"` + prompt + `"}],"max_tokens":128,"stream":true}`
	in := "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
	next := "GET /health HTTP/1.1\r\n\r\n"
	all := in + next
	s := reqFeed(Truncated([]byte(all[:4096]), []byte(all[len(all)-256:]), int64(len(all))))
	want := fmt.Sprintf("POST /v1/chat/completions cl=%d chunked=false expect=false stream=true/true max=128/true body=%d lost=false degraded=false", len(body), len(body))
	if s.begins != 2 || len(s.lines) != 2 || s.lines[0] != want || s.err != nil {
		t.Fatalf("got %v\nwant first %s", s, want)
	}

	// Captured in pieces as a server reads it: 64 KiB reads of 4 KiB captures.
	var frags []Fragment
	for off := 0; off < len(all); off += 65536 {
		end := min(off+65536, len(all))
		piece := all[off:end]
		frags = append(frags, Truncated([]byte(piece[:min(4096, len(piece))]), []byte(piece[max(len(piece)-256, min(4096, len(piece))):]), int64(len(piece))))
	}
	if s := reqFeed(frags...); s.lines[0] != want {
		t.Fatalf("64 KiB reads: %v", s)
	}

	// The next request's line falls into the gap: the parser loses it and resumes at the
	// next fragment that starts with a request line.
	gapNext := in + next + next
	cut := len(in) + 3
	f := Truncated([]byte(gapNext[:cut-len(next)-40]), []byte(gapNext[cut:][:5]), int64(cut+5))
	s = reqFeed(f, Bytes([]byte(gapNext[cut+5:])), Bytes([]byte(next)))
	if s.begins != 2 || s.ends != 2 {
		t.Fatalf("after a lost request line: %v", s)
	}
}

// A chunked request body whose chunk header fell into a gap is lost until a fragment
// starts with a chunk (or a request line).
func TestRequestChunkedGap(t *testing.T) {
	head := "POST /generate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	c1 := chunk(strings.Repeat("x", 100))
	c2 := chunk(`{"max_new_tokens":5}`)
	w := head + c1 + c2
	f := Truncated([]byte(w[:len(head)+50]), nil, int64(len(w))) // c2's header is in the gap
	s := reqFeed(f, Bytes([]byte(chunk("more"))), Bytes([]byte(lastChunk)), Bytes([]byte("GET / HTTP/1.1\r\n\r\n")))
	if s.begins != 2 || s.ends != 2 || !strings.Contains(s.lines[0], "degraded=true") || strings.Contains(s.lines[0], "lost=true") {
		t.Fatalf("chunk header in a gap: %v", s)
	}
	// Lost and never resynced: the next request line ends it as lost.
	s = reqFeed(f, Bytes([]byte("GET / HTTP/1.1\r\n\r\n")))
	if s.begins != 2 || s.ends != 2 || !strings.Contains(s.lines[0], "lost=true") {
		t.Fatalf("chunked body lost until the next request: %v", s)
	}
}
