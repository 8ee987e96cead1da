package frontend

import (
	"bufio"
	"errors"
	"github.com/inferprobe/inferprobe/testbed/frontend/fakecore"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// chunkSrc returns its chunks one Read each, noting when each Read returned.
type chunkSrc struct {
	chunks []string
	at     []uint64
	pause  bool // sleep in each read, so reads are apart in time
}

func (s *chunkSrc) Read(p []byte) (int, error) {
	if len(s.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.chunks[0])
	s.chunks[0] = s.chunks[0][n:]
	if s.chunks[0] == "" {
		s.chunks = s.chunks[1:]
	}
	if s.pause {
		time.Sleep(50 * time.Microsecond)
	}
	s.at = append(s.at, truth.Now())
	return n, nil
}

// wantReq is a request a reader should parse: its target and body, the index of the
// read that brought its first byte, whether the connection closes after it.
type wantReq struct {
	target, body string
	read         int
	close        bool
}

func TestReader(t *testing.T) {
	get := "GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
	post := "POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
	cases := []struct {
		name   string
		chunks []string
		// per request: target, body, which read brought its first byte, close
		want   []wantReq
		status int // of a final malformed request
	}{
		{name: "one read", chunks: []string{get},
			want: []wantReq{{"/health", "", 0, false}}},
		{name: "byte by byte", chunks: strings.Split(post, ""),
			want: []wantReq{{"/v1/completions", "hello", 0, false}}},
		{name: "pipelined in one read", chunks: []string{post + get + post},
			want: []wantReq{{"/v1/completions", "hello", 0, false}, {"/health", "", 0, false}, {"/v1/completions", "hello", 0, false}}},
		{name: "second request starts in the first's last read", chunks: []string{post[:10], post[10:] + get[:3], get[3:]},
			want: []wantReq{{"/v1/completions", "hello", 0, false}, {"/health", "", 1, false}}},
		{name: "blank lines before, bare LF, chunked body, HTTP/1.0",
			chunks: []string{"\r\n\r\n", "POST /x HTTP/1.0\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n"},
			want:   []wantReq{{"/x", "abcde", 1, true}}},
		{name: "connection close", chunks: []string{"GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n"},
			want: []wantReq{{"/", "", 0, true}}},
		{name: "malformed request line", chunks: []string{get, "GARBAGE\r\n\r\n"}, status: 400,
			want: []wantReq{{"/health", "", 0, false}}},
		{name: "bad content-length", chunks: []string{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"}, status: 400},
		{name: "conflicting content-length", chunks: []string{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"}, status: 400},
		{name: "http/2 preface", chunks: []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}, status: 505},
		{name: "header too large", chunks: []string{"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHeaderBytes+10)}, status: 431},
		{name: "body too large", chunks: []string{"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"}, status: 413},
		{name: "unknown transfer-encoding", chunks: []string{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"}, status: 501},
	}
	for _, tc := range cases {
		src := &chunkSrc{chunks: append([]string(nil), tc.chunks...), pause: true}
		rd := newReader(src)
		for i, w := range tc.want {
			req, err := rd.next()
			if err != nil || req.err != nil {
				t.Fatalf("%s: request %d: %v %v", tc.name, i, err, req)
			}
			if req.target != w.target || string(req.body) != w.body || req.close != w.close {
				t.Fatalf("%s: request %d: %q %q close=%v", tc.name, i, req.target, req.body, req.close)
			}
			if req.arrivalNS < src.at[w.read] || (w.read+1 < len(src.at) && req.arrivalNS >= src.at[w.read+1]) {
				t.Fatalf("%s: request %d arrival %d, want read %d's time (reads at %v)", tc.name, i, req.arrivalNS, w.read, src.at)
			}
		}
		req, err := rd.next()
		if tc.status != 0 {
			if err != nil || req.err == nil || req.err.status != tc.status || !req.close {
				t.Fatalf("%s: want a %d, got %v %+v", tc.name, tc.status, err, req)
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: after the requests: %v %+v, want EOF", tc.name, err, req)
		}
	}
}

func TestReaderTruncated(t *testing.T) {
	for _, in := range []string{"GET / HT", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"} {
		_, err := newReader(&chunkSrc{chunks: []string{in}}).next()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v, want unexpected EOF", in, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add("POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n", 7)
	f.Add("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 3)
	f.Add("\n\nGET / HTTP/1.0\nA: b\n\n", 1)
	f.Fuzz(func(t *testing.T, in string, split int) {
		if split < 1 {
			split = 1
		}
		var chunks []string
		for len(in) > split {
			chunks, in = append(chunks, in[:split]), in[split:]
		}
		chunks = append(chunks, in)
		rd := newReader(&chunkSrc{chunks: chunks})
		for range 100 {
			req, err := rd.next()
			if err != nil || req.err != nil {
				return
			}
		}
	})
}

func TestPipelinedOverTCP(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	c := dial(t, ts.addr)
	body := `{"prompt":"a b","max_tokens":3,"stream":true}`
	one := "POST /v1/completions HTTP/1.1\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	// Three requests in one write; the last asks to close.
	if _, err := io.WriteString(c, one+"GET /health HTTP/1.1\r\n\r\n"+strings.Replace(one, "HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n", 1)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := range 3 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if i == 1 {
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || len(b) != 0 {
				t.Fatalf("health: %d %q", resp.StatusCode, b)
			}
			continue
		}
		if evs := sseEvents(t, resp.Body); len(evs) != 4 || evs[3] != "[DONE]" {
			t.Fatalf("response %d: %q", i, evs)
		}
		if i == 2 && !resp.Close {
			t.Fatal("last response lacks connection: close")
		}
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after connection: close: %v, want EOF", err)
	}
	reqs := ts.requests(t)
	if len(reqs) != 3 || reqs[0].ArrivalNS != reqs[1].ArrivalNS || reqs[1].ArrivalNS != reqs[2].ArrivalNS {
		t.Fatalf("pipelined requests share the read that brought them: %+v", reqs)
	}
}

func TestExpectContinue(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	c := dial(t, ts.addr)
	body := `{"prompt":"a b","max_tokens":2}`
	sent := truth.Now()
	io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim response %q %v", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("interim response not ended: %q", blank)
	}
	time.Sleep(5 * time.Millisecond)
	io.WriteString(c, body)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("final response %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"text":" t0 t1"`) {
		t.Fatalf("body %s", b)
	}
	// Arrival is the read of the head, before the body was sent.
	r := ts.requests(t)[0]
	if r.ArrivalNS < sent || r.ArrivalNS-sent > 4_000_000 {
		t.Fatalf("arrival %d, head sent at %d", r.ArrivalNS, sent)
	}
}

func TestMalformedClosesConnection(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	c := dial(t, ts.addr)
	io.WriteString(c, "HELLO\r\n\r\nGET /health HTTP/1.1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 400 || !resp.Close {
		t.Fatalf("%v %v", resp, err)
	}
	io.ReadAll(resp.Body)
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection still open: %v", err)
	}
	if r := ts.requests(t); len(r) != 1 || r[0].Class != truth.ClassBadRequest {
		t.Fatalf("truth %+v", r)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
