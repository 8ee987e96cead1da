package gpu

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Choices []struct {
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sseEvents reads a whole SSE body: the data of each event, in order.
func sseEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	var blank = true
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			blank = true
		case strings.HasPrefix(line, "data: ") && blank:
			out = append(out, strings.TrimPrefix(line, "data: "))
			blank = false
		default:
			t.Fatalf("line %q is not an SSE data line after a blank line", line)
		}
	}
	return out
}

func TestServerFormatAndTruth(t *testing.T) {
	s := startServer(t)

	// a stream with usage: 5 content chunks, the usage chunk, [DONE]
	resp := post(t, s.url, `{"prompt": "hello world", "max_tokens": 5, "stream": true, "stream_options": {"include_usage": true}}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
		len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("stream: status %d, content type %q, transfer encoding %v", resp.StatusCode, resp.Header.Get("Content-Type"), resp.TransferEncoding)
	}
	events := sseEvents(t, resp.Body)
	if len(events) != 7 || events[6] != "[DONE]" {
		t.Fatalf("%d events, last %q: %q", len(events), events[len(events)-1], events)
	}
	var id string
	for i, e := range events[:6] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("event %d %q: %v", i, e, err)
		}
		if i == 0 {
			id = c.ID
		}
		if c.ID != id || !strings.HasPrefix(id, "cmpl-") || c.Object != "text_completion" {
			t.Fatalf("event %d: id %q (first %q), object %q", i, c.ID, id, c.Object)
		}
		switch {
		case i < 5:
			fin := c.Choices[0].FinishReason
			if len(c.Choices) != 1 || c.Choices[0].Text == "" || c.Usage != nil || (i < 4) != (fin == nil) || (i == 4 && *fin != "length") {
				t.Fatalf("content event %d: %q", i, e)
			}
		default:
			if len(c.Choices) != 0 || c.Usage == nil || c.Usage.PromptTokens != 11 || c.Usage.CompletionTokens != 5 || c.Usage.TotalTokens != 16 {
				t.Fatalf("usage event: %q", e)
			}
		}
	}

	// a stream without usage, by token ids
	resp = post(t, s.url, `{"prompt": [1, 2, 3], "max_tokens": 3, "stream": true}`)
	events = sseEvents(t, resp.Body)
	if len(events) != 4 || strings.Contains(strings.Join(events, ""), "usage") {
		t.Fatalf("stream without usage: %q", events)
	}

	// a whole response
	resp = post(t, s.url, `{"prompt": "abcd", "max_tokens": 4}`)
	var whole chunk
	if err := json.NewDecoder(resp.Body).Decode(&whole); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || whole.Usage == nil || whole.Usage.CompletionTokens != 4 || whole.Usage.PromptTokens != 4 ||
		len(strings.Fields(whole.Choices[0].Text)) != 4 || *whole.Choices[0].FinishReason != "length" {
		t.Fatalf("whole response %d: %+v", resp.StatusCode, whole)
	}

	// errors
	resp = post(t, s.url, `{"prompt": "abcd", "max_tokens": 300}`)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "maximum context length is 256 tokens") {
		t.Fatalf("context length: %d %s", resp.StatusCode, body)
	}
	resp = post(t, s.url, `{"prompt": `)
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 400 {
		t.Fatalf("bad JSON: %d", resp.StatusCode)
	}
	s.stop(t)

	reqs, steps, err := truth.ReadStrict(s.truth)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 5 {
		t.Fatalf("%d truth requests, want 5", len(reqs))
	}
	want := []struct {
		stream       bool
		status       int
		class        string
		prompt, toks int
	}{{true, 200, "ok", 11, 5}, {true, 200, "ok", 3, 3}, {false, 200, "ok", 4, 4}, {false, 400, "context_length", 4, 0}, {false, 400, "bad_request", 0, 0}}
	byID := map[string][]uint64{} // request id: end times of the steps that gave it a token
	for _, st := range steps {
		if st.BatchSize != len(st.Requests) || st.EndNS <= st.StartNS || st.PID != s.pid {
			t.Errorf("step %+v", st)
		}
		for _, r := range st.Requests {
			byID[r] = append(byID[r], st.EndNS)
		}
	}
	for i, r := range reqs {
		w := want[i]
		if r.Stream != w.stream || r.Status != w.status || r.Class != w.class || r.PromptTokens != w.prompt || r.CompletionTokens != w.toks ||
			r.PID != s.pid || r.Path != "/v1/completions" || r.Method != "POST" || r.EndNS <= r.ArrivalNS {
			t.Errorf("truth request %d: %+v, want %+v", i, r, w)
			continue
		}
		if i == 0 && r.ID != id {
			t.Errorf("truth id %s, response id %s", r.ID, id)
		}
		if w.status != 200 {
			if r.PrefillStep != nil || len(byID[r.ID]) != 0 {
				t.Errorf("failed request %d was scheduled", i)
			}
			continue
		}
		if r.PrefillStep == nil || !(r.ArrivalNS < r.FirstScheduledNS && r.FirstScheduledNS <= r.PrefillStartNS && r.PrefillStartNS < r.FirstTokenNS && r.FirstTokenNS <= r.EndNS) {
			t.Errorf("request %d times out of order: %+v", i, r)
		}
		if got := len(byID[r.ID]); got != w.toks {
			t.Errorf("request %d got tokens from %d steps, want %d", i, got, w.toks)
		}
		if w.stream {
			if len(r.TokenNS) != w.toks || r.TokenNS[0] != r.FirstTokenNS || r.TokenNS[0] < byID[r.ID][0] {
				t.Errorf("stream %d tokens %v, first %d, its prefill step ended %d", i, r.TokenNS, r.FirstTokenNS, byID[r.ID][0])
			}
		} else if r.FirstTokenNS != r.EndNS || len(r.TokenNS) != 0 {
			t.Errorf("whole response %d: first token %d, end %d, tokens %v", i, r.FirstTokenNS, r.EndNS, r.TokenNS)
		}
	}
}

func TestServerUnderLoad(t *testing.T) {
	s := startServer(t)
	summary := filepath.Join(t.TempDir(), "load.json")
	out := runLoad(t, s.url, "--count", "40", "--rate", "80", "--concurrency", "16", "--prompt-tokens", "8:64",
		"--output-tokens", "4:24", "--stream-fraction", "0.75", "--seed", "3", "--json", summary)
	var sum struct {
		Sent, OK, Failed int
		Tokens           int `json:"completion_tokens"`
	}
	if err := json.Unmarshal(mustRead(t, summary), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 40 || sum.OK != 40 || sum.Failed != 0 {
		t.Fatalf("load: %+v\n%s", sum, out)
	}
	s.stop(t)
	reqs, steps, err := truth.ReadStrict(s.truth)
	if err != nil {
		t.Fatal(err)
	}
	tokens, streams := 0, 0
	for _, r := range reqs {
		tokens += r.CompletionTokens
		if r.Stream {
			streams++
		}
		if r.Status != 200 || r.CompletionTokens < 4 || r.CompletionTokens > 24 || r.PromptTokens < 8 || r.PromptTokens > 64 {
			t.Errorf("request %+v outside the load's ranges", r)
		}
	}
	if len(reqs) != 40 || tokens != sum.Tokens || streams < 20 || streams == 40 {
		t.Errorf("%d truth requests, %d tokens (load counted %d), %d streamed", len(reqs), tokens, sum.Tokens, streams)
	}
	stepTokens, maxBatch, prefills := 0, 0, 0
	for i, st := range steps {
		stepTokens += st.BatchSize
		maxBatch = max(maxBatch, st.BatchSize)
		if st.StepKind == "prefill" {
			prefills++
		}
		if i > 0 && (st.Index != steps[i-1].Index+1 || st.StartNS < steps[i-1].EndNS) {
			t.Errorf("step %d follows step %d out of order", st.Index, steps[i-1].Index)
		}
	}
	// every token came from one step; 80 requests/s at most 8 at a time must batch
	if stepTokens != tokens || maxBatch < 2 || maxBatch > 8 || prefills == 0 || prefills > 40 {
		t.Errorf("steps gave %d tokens (want %d), largest batch %d, %d prefill steps", stepTokens, tokens, maxBatch, prefills)
	}
}

func TestLoadRejectsBadFlags(t *testing.T) {
	needPython(t)
	for _, args := range [][]string{{"--count", "0"}, {"--count", "3", "--prompt-tokens", "9:2"}, {"--duration", "1", "--concurrency", "0"}} {
		out, err := runPython(append([]string{"load.py"}, args...)...)
		if err == nil || !strings.Contains(out, "error:") {
			t.Errorf("load.py %v: %v\n%s", args, err, out)
		}
	}
}

func runPython(args ...string) (string, error) {
	cmd := execPython(args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
