package frontend

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/frontend/fakecore"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// recListener records every Write the server makes on its connections, so tests can
// check what went out in which write.
type recListener struct {
	net.Listener
	mu     sync.Mutex
	writes [][]byte
}

type recConn struct {
	net.Conn
	l *recListener
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, l: l}, nil
}

func (c *recConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, append([]byte(nil), b...))
	c.l.mu.Unlock()
	return n, err
}

func (l *recListener) allWrites() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.writes...)
}

type testServer struct {
	addr  string
	srv   *Server
	core  *fakecore.Core
	ln    *recListener
	truth string
	stop  func() error
}

const testModel = "testbed-model"

func startServer(t *testing.T, maxModelLen int, opt fakecore.Options) *testServer {
	t.Helper()
	core := fakecore.New(opt)
	path := filepath.Join(t.TempDir(), "truth.jsonl")
	tw, err := truth.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Model: testModel, MaxModelLen: maxModelLen, Truth: tw}, core)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &recListener{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	ts := &testServer{addr: inner.Addr().String(), srv: srv, core: core, ln: ln, truth: path}
	var once sync.Once
	var serr error
	ts.stop = func() error {
		once.Do(func() {
			cancel()
			serr = <-errc
			core.Close()
			tw.Close()
		})
		return serr
	}
	t.Cleanup(func() { ts.stop() })
	return ts
}

// requests stops the server and returns its truth lines.
func (ts *testServer) requests(t *testing.T) []truth.Request {
	t.Helper()
	if err := ts.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	reqs, _, err := truth.ReadStrict(ts.truth)
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

func (ts *testServer) post(t *testing.T, path, body string) *http.Response {
	t.Helper()
	resp, err := http.Post("http://"+ts.addr+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sseEvents reads an SSE body to its end: the data of each event, in order.
func sseEvents(t *testing.T, body io.Reader) []string {
	t.Helper()
	var evs []string
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("SSE line without data: %q", line)
		}
		evs = append(evs, data)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return m
}

// waitFor polls cond for up to 2s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var errNoRequest = errors.New("no such request")

func byID(reqs []truth.Request, id string) (truth.Request, error) {
	for _, r := range reqs {
		if r.ID == id {
			return r, nil
		}
	}
	return truth.Request{}, errNoRequest
}
