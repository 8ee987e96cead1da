package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/inferprobe/inferprobe/testbed/frontend/fakecore"
	"io"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

func TestStreamCompletionFormat(t *testing.T) {
	ts := startServer(t, 1024, fakecore.Options{})
	resp := ts.post(t, "/v1/completions", `{"model":"testbed-model","prompt":"one two three four","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("transfer-encoding %v, want chunked", resp.TransferEncoding)
	}
	evs := sseEvents(t, resp.Body)
	resp.Body.Close()
	// 5 tokens, the usage chunk, [DONE].
	if len(evs) != 7 || evs[6] != "[DONE]" {
		t.Fatalf("%d events, last %q: want 7 ending in [DONE]", len(evs), evs[len(evs)-1])
	}
	var id string
	var text strings.Builder
	for i, e := range evs[:5] {
		m := decode(t, e)
		if i == 0 {
			id, _ = m["id"].(string)
		}
		if m["id"] != id || !strings.HasPrefix(id, "cmpl-") || len(id) != len("cmpl-")+32 {
			t.Fatalf("event %d id %v (first %q)", i, m["id"], id)
		}
		if m["object"] != "text_completion" || m["model"] != testModel || m["created"].(float64) < 1.7e9 {
			t.Fatalf("event %d: %s", i, e)
		}
		if _, ok := m["usage"]; !ok || m["usage"] != nil {
			t.Fatalf("event %d: include_usage wants usage null on every token chunk: %s", i, e)
		}
		ch := m["choices"].([]any)
		c := ch[0].(map[string]any)
		if len(ch) != 1 || c["index"].(float64) != 0 {
			t.Fatalf("event %d choices %v", i, ch)
		}
		text.WriteString(c["text"].(string))
		want := any(nil)
		if i == 4 {
			want = "length"
		}
		if c["finish_reason"] != want {
			t.Fatalf("event %d finish_reason %v, want %v", i, c["finish_reason"], want)
		}
	}
	if text.String() != " t0 t1 t2 t3 t4" {
		t.Fatalf("text %q", text.String())
	}
	u := decode(t, evs[5])
	if len(u["choices"].([]any)) != 0 || u["id"] != id {
		t.Fatalf("usage chunk %s", evs[5])
	}
	usage := u["usage"].(map[string]any)
	if usage["prompt_tokens"].(float64) != 4 || usage["completion_tokens"].(float64) != 5 || usage["total_tokens"].(float64) != 9 {
		t.Fatalf("usage %v", usage)
	}
	reqs := ts.requests(t) // stops the server: every write is recorded
	if len(reqs) != 1 {
		t.Fatalf("%d truth lines", len(reqs))
	}
	// The stream's end is one write: [DONE] and the zero-length chunk.
	writes := ts.ln.allWrites()
	if last := string(writes[len(writes)-1]); last != "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n" {
		t.Fatalf("last write %q", last)
	}
	// headers, 5 tokens, usage, done: one write each.
	if len(writes) != 8 {
		t.Fatalf("%d writes, want 8", len(writes))
	}
	r := reqs[0]
	if r.ID != id || r.Status != 200 || r.Class != truth.ClassOK || !r.Stream || r.PromptTokens != 4 || r.CompletionTokens != 5 || len(r.TokenNS) != 5 || r.FinishReason != "length" {
		t.Fatalf("truth %+v", r)
	}
	if r.PrefillStep == nil || r.FirstScheduledNS == 0 || r.FirstScheduledNS < r.ArrivalNS || r.FirstTokenNS != r.TokenNS[0] || r.EndNS < r.TokenNS[4] {
		t.Fatalf("truth times %+v", r)
	}
	for i := 1; i < 5; i++ {
		if r.TokenNS[i] <= r.TokenNS[i-1] || r.TokenNS[i]-r.TokenNS[i-1] > 50_000_000 {
			t.Fatalf("token %d at %d after %d: the fake core steps every 1ms", i, r.TokenNS[i], r.TokenNS[i-1])
		}
	}
}

func TestStreamChatFormat(t *testing.T) {
	ts := startServer(t, 1024, fakecore.Options{})
	resp := ts.post(t, "/v1/chat/completions", `{"model":"testbed-model","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hello there you"}]}],"max_tokens":3,"stream":true}`)
	evs := sseEvents(t, resp.Body)
	resp.Body.Close()
	// role chunk, 3 tokens, [DONE] (no usage chunk without include_usage).
	if len(evs) != 5 || evs[4] != "[DONE]" {
		t.Fatalf("events %q", evs)
	}
	role := decode(t, evs[0])
	d := role["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	if d["role"] != "assistant" || d["content"] != "" || role["object"] != "chat.completion.chunk" {
		t.Fatalf("role chunk %s", evs[0])
	}
	id := role["id"].(string)
	if !strings.HasPrefix(id, "chatcmpl-") {
		t.Fatalf("id %q", id)
	}
	for i, e := range evs[1:4] {
		m := decode(t, e)
		if _, has := m["usage"]; has || m["id"] != id {
			t.Fatalf("chunk %d: %s", i, e)
		}
		c := m["choices"].([]any)[0].(map[string]any)
		if got := c["delta"].(map[string]any)["content"]; got != fmt.Sprintf(" t%d", i) {
			t.Fatalf("chunk %d content %v", i, got)
		}
	}
	r, err := byID(ts.requests(t), id)
	if err != nil {
		t.Fatal(err)
	}
	// 2 + 3 words; token times are the content writes only, not the role chunk.
	if r.PromptTokens != 5 || r.CompletionTokens != 3 || len(r.TokenNS) != 3 || r.Path != "/v1/chat/completions" {
		t.Fatalf("truth %+v", r)
	}
}

func TestNonStreamed(t *testing.T) {
	ts := startServer(t, 1024, fakecore.Options{})
	for _, tc := range []struct{ path, body, object, text string }{
		{"/v1/completions", `{"model":"testbed-model","prompt_tokens":300,"max_tokens":4}`, "text_completion", " t0 t1 t2 t3"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"a b"}],"max_tokens":2}`, "chat.completion", " t0 t1"},
	} {
		resp := ts.post(t, tc.path, tc.body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(b)) {
			t.Fatalf("%s: status %d length %d body %s", tc.path, resp.StatusCode, resp.ContentLength, b)
		}
		var out struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Choices []struct {
				Text         string `json:"text"`
				Message      struct{ Role, Content string }
				FinishReason string `json:"finish_reason"`
			}
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&out); err != nil {
			t.Fatal(err)
		}
		text := out.Choices[0].Text + out.Choices[0].Message.Content
		if out.Object != tc.object || text != tc.text || out.Choices[0].FinishReason != "length" || out.ID == "" {
			t.Fatalf("%s: %s", tc.path, b)
		}
		n := len(strings.Fields(tc.text))
		var u struct {
			Usage struct {
				P int `json:"prompt_tokens"`
				C int `json:"completion_tokens"`
				T int `json:"total_tokens"`
			} `json:"usage"`
		}
		json.Unmarshal(b, &u)
		wantP := 300
		if tc.object == "chat.completion" {
			wantP = 2
		}
		if u.Usage.P != wantP || u.Usage.C != n || u.Usage.T != wantP+n {
			t.Fatalf("%s usage %+v", tc.path, u.Usage)
		}
	}
	for _, r := range ts.requests(t) {
		if r.Stream || r.Status != 200 || len(r.TokenNS) != 0 || r.FirstTokenNS != r.EndNS || r.EndNS <= r.ArrivalNS {
			t.Fatalf("truth %+v", r)
		}
	}
}
