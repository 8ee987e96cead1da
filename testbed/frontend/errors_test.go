package frontend

import (
	"bufio"
	"encoding/json"
	"errors"
	"github.com/inferprobe/inferprobe/testbed/frontend/fakecore"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

type errBody struct {
	Object  string  `json:"object"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    int     `json:"code"`
}

func readErr(t *testing.T, resp *http.Response) errBody {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e errBody
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if e.Object != "error" || e.Code != resp.StatusCode || e.Message == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("error body %s", b)
	}
	return e
}

func TestErrors(t *testing.T) {
	ts := startServer(t, 100, fakecore.Options{FailPrompt: 13})
	cases := []struct {
		name, path, body string
		status           int
		typ, msg, class  string
	}{
		{"context length", "/v1/completions", `{"prompt_tokens":90,"max_tokens":20}`, 400, "BadRequestError",
			"This model's maximum context length is 100 tokens. However, you requested 110 tokens (90 in the messages, 20 in the completion). Please reduce the length of the messages or completion.",
			truth.ClassContextLength},
		{"prompt alone too long", "/v1/completions", `{"prompt_tokens":100}`, 400, "BadRequestError",
			"This model's maximum context length is 100 tokens. However, your request has 100 input tokens. Please reduce the length of the input messages.",
			truth.ClassContextLength},
		{"malformed json", "/v1/completions", `{"prompt": "a b",`, 400, "BadRequestError", "", truth.ClassBadRequest},
		{"bad max_tokens", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`, 400, "BadRequestError", "max_tokens must be at least 1, got 0.", truth.ClassBadRequest},
		{"unknown model", "/v1/completions", `{"model":"gpt-9","prompt":"x","max_tokens":1}`, 404, "NotFoundError", "The model `gpt-9` does not exist.", truth.ClassBadRequest},
		{"unknown path", "/v1/embeddings", `{}`, 404, "NotFoundError", "Not Found", truth.ClassBadRequest},
		{"injected fault", "/v1/completions", `{"prompt_tokens":13,"max_tokens":5,"stream":true}`, 500, "InternalServerError", "injected fault", truth.ClassServerError},
	}
	for _, tc := range cases {
		e := readErr(t, ts.post(t, tc.path, tc.body))
		if e.Code != tc.status || e.Type != tc.typ || (tc.msg != "" && e.Message != tc.msg) {
			t.Errorf("%s: got %+v", tc.name, e)
		}
	}
	reqs := ts.requests(t)
	if len(reqs) != len(cases) {
		t.Fatalf("%d truth lines, want %d", len(reqs), len(cases))
	}
	for i, tc := range cases {
		r := reqs[i]
		if r.Status != tc.status || r.Class != tc.class || r.EndNS <= r.ArrivalNS || r.CompletionTokens != 0 {
			t.Errorf("%s: truth %+v", tc.name, r)
		}
	}
}

func TestRateLimited(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{MaxRunning: 1})
	// The first request holds the only slot for ~200 ticks.
	first := make(chan *http.Response)
	go func() {
		resp, _ := http.Post("http://"+ts.addr+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"a","max_tokens":200,"stream":true}`))
		first <- resp
	}()
	waitFor(t, "the first request to run", func() bool { return ts.core.Running() == 1 })
	e := readErr(t, ts.post(t, "/v1/completions", `{"prompt":"b","max_tokens":2,"stream":true}`))
	if e.Code != 429 || e.Type != "RateLimitError" || !strings.Contains(e.Message, "waiting queue is full") {
		t.Fatalf("got %+v", e)
	}
	resp := <-first
	if n := len(sseEvents(t, resp.Body)); n != 201 {
		t.Fatalf("first request: %d events, want 201", n)
	}
	resp.Body.Close()
	reqs := ts.requests(t)
	if reqs[0].Class != truth.ClassRateLimited || reqs[0].Status != 429 || reqs[1].Class != truth.ClassOK {
		t.Fatalf("truth %+v / %+v", reqs[0], reqs[1])
	}
}

// A failure after the stream began is an error event inside the 200 stream, as vLLM does.
func TestFailMidStream(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{FailAfterPrompt: 7})
	resp := ts.post(t, "/v1/completions", `{"prompt_tokens":7,"max_tokens":5,"stream":true}`)
	evs := sseEvents(t, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(evs) != 3 || evs[2] != "[DONE]" {
		t.Fatalf("status %d events %q", resp.StatusCode, evs)
	}
	var e struct{ Error errBody }
	if err := json.Unmarshal([]byte(evs[1]), &e); err != nil || e.Error.Code != 500 || e.Error.Message != "injected fault" {
		t.Fatalf("error event %q", evs[1])
	}
	r := ts.requests(t)[0]
	if r.Status != 200 || r.Class != truth.ClassServerError || r.CompletionTokens != 1 || r.Error != "injected fault" {
		t.Fatalf("truth %+v", r)
	}
}

func TestClientAbortFreesRequest(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	c := dial(t, ts.addr)
	body := `{"prompt":"a b c","max_tokens":500,"stream":true}`
	if _, err := io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: abort-me\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for got := 0; got < 3 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			got++
		}
	}
	closed := truth.Now()
	c.Close()
	waitFor(t, "the core to see the abort", func() bool { return len(ts.core.Aborted()) == 1 })
	if id := ts.core.Aborted()[0]; id != "cmpl-abort-me" {
		t.Fatalf("aborted %q", id)
	}
	waitFor(t, "the front end to free it", func() bool { return ts.srv.InFlight() == 0 })
	if n := ts.core.Running(); n != 0 {
		t.Fatalf("%d requests still running", n)
	}
	r := ts.requests(t)[0]
	if r.Class != truth.ClassAborted || r.Status != 200 || r.RequestID != "abort-me" || r.CompletionTokens < 3 || r.CompletionTokens > 400 {
		t.Fatalf("truth %+v", r)
	}
	if d := time.Duration(r.EndNS - closed); r.EndNS < closed || d > 50*time.Millisecond {
		t.Fatalf("end %d is %v after the close at %d", r.EndNS, d, closed)
	}
}

// Stopping the server lets a stream in flight finish and closes idle connections.
func TestGracefulStop(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	idle := dial(t, ts.addr)
	io.WriteString(idle, "GET /health HTTP/1.1\r\n\r\n")
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp := ts.post(t, "/v1/completions", `{"prompt":"a","max_tokens":150,"stream":true}`)
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the first event: the request is in flight
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	if _, err := ibr.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	evs := sseEvents(t, br)
	resp.Body.Close()
	if len(evs) != 150 || evs[149] != "[DONE]" { // 149 more tokens and [DONE]
		t.Fatalf("%d events after the first, last %q", len(evs), evs[len(evs)-1])
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	reqs := ts.requests(t)
	if r := reqs[len(reqs)-1]; r.Class != truth.ClassOK || r.CompletionTokens != 150 {
		t.Fatalf("truth %+v", r)
	}
}

// A client that closes while a non-streamed completion is generating frees it too.
func TestClientAbortNonStreamed(t *testing.T) {
	ts := startServer(t, 1000, fakecore.Options{})
	c := dial(t, ts.addr)
	body := `{"prompt":"a","max_tokens":900}`
	io.WriteString(c, "POST /v1/completions HTTP/1.1\r\nX-Request-Id: quiet\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
	waitFor(t, "the request to run", func() bool { return ts.core.Running() == 1 })
	time.Sleep(10 * time.Millisecond) // some tokens generated, none sent
	c.Close()
	waitFor(t, "the core to free it", func() bool { return len(ts.core.Aborted()) == 1 && ts.core.Running() == 0 })
	r := ts.requests(t)[0]
	if r.Class != truth.ClassAborted || r.Status != 0 || r.CompletionTokens != 0 || r.ID != "cmpl-quiet" || r.PrefillStep == nil {
		t.Fatalf("truth %+v", r)
	}
}
