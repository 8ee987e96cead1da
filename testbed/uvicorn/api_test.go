package uvicorn

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

func TestStreams(t *testing.T) {
	a := startApp(t, 1024)
	resp := a.post(t, "/v1/completions", `{"model":"testbed-model","prompt":"one two three four","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`)
	if resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("headers %v", resp.Header)
	}
	evs := events(t, resp.Body)
	resp.Body.Close()
	if len(evs) != 7 || evs[6] != "[DONE]" {
		t.Fatalf("events %q", evs)
	}
	first := parse(t, evs[0])
	for i, e := range evs[:5] {
		c := parse(t, e)
		want := fmt.Sprintf(" t%d", i)
		if c.ID != first.ID || !strings.HasPrefix(c.ID, "cmpl-") || c.Object != "text_completion" || c.Model != model ||
			c.Created < 1.7e9 || *c.Choices[0].Text != want || (i < 4) != (c.Choices[0].FinishReason == nil) {
			t.Fatalf("event %d: %s", i, e)
		}
		if !strings.Contains(e, `"usage":null`) {
			t.Fatalf("event %d lacks usage null: %s", i, e)
		}
	}
	if u := parse(t, evs[5]).Usage; u == nil || u.PromptTokens != 4 || u.CompletionTokens != 5 || u.TotalTokens != 9 {
		t.Fatalf("usage chunk %s", evs[5])
	}
	resp = a.post(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"a b c"}]}],"max_tokens":3,"stream":true}`)
	evs = events(t, resp.Body)
	resp.Body.Close()
	if len(evs) != 5 || evs[4] != "[DONE]" {
		t.Fatalf("chat events %q", evs)
	}
	role := parse(t, evs[0])
	if d := role.Choices[0].Delta; role.Object != "chat.completion.chunk" || d.Role != "assistant" || *d.Content != "" || !strings.HasPrefix(role.ID, "chatcmpl-") {
		t.Fatalf("role chunk %s", evs[0])
	}
	if c := parse(t, evs[3]); *c.Choices[0].Delta.Content != " t2" || *c.Choices[0].FinishReason != "length" {
		t.Fatalf("last chat chunk %s", evs[3])
	}
	reqs := a.stop(t)
	if len(reqs) != 2 {
		t.Fatalf("%d truth lines", len(reqs))
	}
	for i, want := range []struct {
		id           string
		prompt, toks int
	}{{first.ID, 4, 5}, {role.ID, 3, 3}} {
		r := reqs[i]
		if r.ID != want.id || r.Frontend != "uvicorn" || r.PID != a.pid || !r.Stream || r.Status != 200 || r.Class != truth.ClassOK ||
			r.PromptTokens != want.prompt || r.CompletionTokens != want.toks || len(r.TokenNS) != want.toks ||
			r.FirstTokenNS != r.TokenNS[0] || r.EndNS < r.TokenNS[want.toks-1] || r.ArrivalNS > r.FirstScheduledNS || r.PrefillStep == nil {
			t.Fatalf("truth %d: %+v", i, r)
		}
	}
}

func TestNonStreamed(t *testing.T) {
	a := startApp(t, 1024)
	resp := a.post(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"a b"}],"max_tokens":2}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c := parse(t, string(b))
	if resp.StatusCode != 200 || c.Object != "chat.completion" || c.Choices[0].Message.Content != " t0 t1" || c.Usage.TotalTokens != 4 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	resp = a.post(t, "/v1/completions", `{"prompt_tokens":300,"max_tokens":3}`)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if c := parse(t, string(b)); *c.Choices[0].Text != " t0 t1 t2" || c.Usage.PromptTokens != 300 || c.Object != "text_completion" {
		t.Fatalf("%s", b)
	}
	for _, r := range a.stop(t) {
		if r.Stream || r.Status != 200 || r.FirstTokenNS != r.EndNS || len(r.TokenNS) != 0 || r.EndNS <= r.ArrivalNS {
			t.Fatalf("truth %+v", r)
		}
	}
}

func TestErrors(t *testing.T) {
	a := startApp(t, 100, "--fail-prompt=13", "--fail-after-prompt=7")
	cases := []struct {
		name, method, path, body string
		status                   int
		typ, msg, class          string
	}{
		{"context length", "POST", "/v1/completions", `{"prompt_tokens":90,"max_tokens":20}`, 400, "BadRequestError",
			"This model's maximum context length is 100 tokens. However, you requested 110 tokens (90 in the messages, 20 in the completion). Please reduce the length of the messages or completion.", truth.ClassContextLength},
		{"prompt alone", "POST", "/v1/completions", `{"prompt_tokens":100}`, 400, "BadRequestError",
			"This model's maximum context length is 100 tokens. However, your request has 100 input tokens. Please reduce the length of the input messages.", truth.ClassContextLength},
		{"malformed", "POST", "/v1/completions", `{"prompt": "a b",`, 400, "BadRequestError", "", truth.ClassBadRequest},
		{"bad max_tokens", "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`, 400, "BadRequestError", "max_tokens must be at least 1, got 0.", truth.ClassBadRequest},
		{"unknown model", "POST", "/v1/completions", `{"model":"gpt-9","prompt":"x","max_tokens":1}`, 404, "NotFoundError", "The model `gpt-9` does not exist.", truth.ClassBadRequest},
		{"unknown path", "POST", "/v1/embeddings", `{}`, 404, "NotFoundError", "Not Found", truth.ClassBadRequest},
		{"wrong method", "GET", "/v1/completions", ``, 405, "MethodNotAllowedError", "Method Not Allowed", truth.ClassBadRequest},
		{"injected fault", "POST", "/v1/completions", `{"prompt_tokens":13,"max_tokens":5,"stream":true}`, 500, "InternalServerError", "injected fault", truth.ClassServerError},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, a.url+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Object, Message, Type string
			Param                 *string
			Code                  int
		}
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != tc.status || e.Object != "error" || e.Code != tc.status ||
			e.Type != tc.typ || (tc.msg != "" && e.Message != tc.msg) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
	// A failure after the first token: an error event inside the 200 stream.
	resp := a.post(t, "/v1/completions", `{"prompt_tokens":7,"max_tokens":5,"stream":true}`)
	evs := events(t, resp.Body)
	resp.Body.Close()
	if len(evs) != 3 || !strings.Contains(evs[1], `"error":{"object":"error","message":"injected fault"`) || evs[2] != "[DONE]" {
		t.Fatalf("mid-stream failure: %q", evs)
	}
	reqs := a.stop(t)
	if len(reqs) != len(cases)+1 {
		t.Fatalf("%d truth lines", len(reqs))
	}
	for i, tc := range cases {
		if r := reqs[i]; r.Status != tc.status || r.Class != tc.class || r.EndNS < r.ArrivalNS {
			t.Errorf("%s: truth %+v", tc.name, r)
		}
	}
	if r := reqs[len(cases)]; r.Status != 200 || r.Class != truth.ClassServerError || r.CompletionTokens != 1 {
		t.Errorf("mid-stream failure: truth %+v", r)
	}
}

func TestRateLimitedAndAbort(t *testing.T) {
	a := startApp(t, 1000, "--max-running=1")
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"prompt":"a","max_tokens":900,"stream":true}`
	fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: held\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for n := 0; n < 3 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			n++
		}
	}
	// The only slot is held: the next request gets 429.
	r2 := a.post(t, "/v1/completions", `{"prompt":"b","max_tokens":2}`)
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 429 || !strings.Contains(string(b), `"type":"RateLimitError"`) {
		t.Fatalf("%d %s", r2.StatusCode, b)
	}
	closed := truth.Now()
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := os.ReadFile(a.aborts)
		if string(got) == "cmpl-held\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the core freed %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	reqs := a.stop(t)
	if len(reqs) != 2 {
		t.Fatalf("truth %+v", reqs)
	}
	held, limited := reqs[1], reqs[0]
	if held.ID != "cmpl-held" {
		held, limited = reqs[0], reqs[1]
	}
	if limited.Status != 429 || limited.Class != truth.ClassRateLimited {
		t.Fatalf("truth %+v", limited)
	}
	if held.ID != "cmpl-held" || held.RequestID != "held" || held.Class != truth.ClassAborted || held.Status != 200 ||
		held.CompletionTokens < 3 || held.EndNS < closed || held.EndNS-closed > 50_000_000 {
		t.Fatalf("truth %+v (closed at %d)", held, closed)
	}
}

func TestExpectContinueAndPipelining(t *testing.T) {
	a := startApp(t, 1000)
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"prompt":"a b","max_tokens":2}`
	fmt.Fprintf(c, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	br := bufio.NewReader(c)
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim %q", line)
	}
	br.ReadString('\n')
	fmt.Fprint(c, body+"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	for i, want := range []int{200, 200} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("response %d: %v %v", i, resp, err)
		}
		io.ReadAll(resp.Body)
	}
	reqs := a.stop(t)
	if len(reqs) != 2 || reqs[0].Path != "/v1/completions" || reqs[1].Path != "/health" || reqs[1].ArrivalNS < reqs[0].ArrivalNS {
		t.Fatalf("truth %+v", reqs)
	}
}

// TestTruthFollowsEachWrite: with many streams in flight, each token's truth time is
// that of its own write: uvloop flushes every connection's writes together at the end
// of a batch of callbacks, and a time taken in a callback after that flush trailed the
// write by the other connections' writes and whatever the loop ran first, so clients
// had tokens before their truth times. The client's receipt of a token follows its
// write, and so must the truth (within clock-read slack).
func TestTruthFollowsEachWrite(t *testing.T) {
	a := startApp(t, 1024, "--tick", "5ms")
	const streams, tokens = 24, 12
	recv := make([][]uint64, streams)
	ids := make([]string, streams)
	done := make(chan int)
	for i := 0; i < streams; i++ {
		go func(i int) {
			defer func() { done <- i }()
			resp, err := http.Post(a.url+"/v1/completions", "application/json",
				strings.NewReader(fmt.Sprintf(`{"prompt":"a b c","max_tokens":%d,"stream":true}`, tokens)))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				d, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok || d == "[DONE]" {
					continue
				}
				recv[i] = append(recv[i], truth.Now())
				if ids[i] == "" {
					ids[i] = parse(t, d).ID
				}
			}
		}(i)
	}
	for i := 0; i < streams; i++ {
		<-done
	}
	byID := map[string]truth.Request{}
	for _, r := range a.stop(t) {
		byID[r.ID] = r
	}
	n, late := 0, 0
	for i, id := range ids {
		r, ok := byID[id]
		if !ok || len(r.TokenNS) != tokens || len(recv[i]) != tokens {
			t.Fatalf("stream %d (%s): truth %+v, %d tokens received", i, id, r, len(recv[i]))
		}
		for k, ts := range r.TokenNS {
			n++
			if ts > recv[i][k]+50_000 {
				late++
			}
		}
		if r.EndNS != r.TokenNS[tokens-1] {
			t.Errorf("stream %d: end %d is not its last token's write %d (they leave together)", i, r.EndNS, r.TokenNS[tokens-1])
		}
	}
	if late > n/50 {
		t.Errorf("%d of %d token times trail the client's receipt", late, n)
	}
}
