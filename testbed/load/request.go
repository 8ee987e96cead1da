package load

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Record is what the client saw of one request: one JSON line of --out. Times are
// CLOCK_MONOTONIC ns; 0 means it did not happen.
type Record struct {
	RequestID string `json:"request_id"`   // the X-Request-Id sent
	ID        string `json:"id,omitempty"` // the response id, when the response carried one
	Path      string `json:"path"`
	Stream    bool   `json:"stream"`
	Burst     bool   `json:"burst,omitempty"`
	// PromptTokens and MaxTokens are what was asked for.
	PromptTokens int `json:"prompt_tokens"`
	MaxTokens    int `json:"max_tokens"`
	// SchedNS is when the schedule said to send; SendNS just before the request's write.
	SchedNS uint64 `json:"sched_ns"`
	SendNS  uint64 `json:"send_ns"`
	// FirstTokenNS is right after the read that completed the first content event (the
	// response body of a non-streamed completion); TokenNS has one entry per content event.
	FirstTokenNS uint64   `json:"first_token_ns,omitempty"`
	TokenNS      []uint64 `json:"token_ns,omitempty"`
	// EndNS is right after the read that completed the response, or when the client
	// closed (an abort) or gave up.
	EndNS  uint64 `json:"end_ns"`
	Status int    `json:"status"` // 0: no response
	Class  string `json:"class"`
	// Tokens is the content events received (streams) or usage.completion_tokens
	// (non-streamed); UsageTokens is usage.completion_tokens when the response had it.
	Tokens      int    `json:"tokens"`
	UsageTokens int    `json:"usage_tokens,omitempty"`
	Aborted     bool   `json:"aborted,omitempty"` // the client closed mid-stream on purpose
	Error       string `json:"error,omitempty"`   // the server's error message, or the client's
}

// TTFT is the client's time to first token.
func (r *Record) TTFT() time.Duration {
	if r.FirstTokenNS == 0 {
		return 0
	}
	return time.Duration(r.FirstTokenNS - r.SendNS)
}

var words = strings.Fields("the of and to in is you that it he was for on are as with his they at be this from have or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part")

// body renders a request's JSON.
func (c *Config) body(p planned) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":`)
	m, _ := json.Marshal(c.Model)
	b.Write(m)
	prompt := ""
	if c.PromptMode == "count" {
		b.WriteString(`,"prompt_tokens":` + strconv.Itoa(p.prompt))
		prompt = "x"
	} else {
		var sb strings.Builder
		for i := range p.prompt {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[(p.n+i)%len(words)])
		}
		prompt = sb.String()
	}
	if p.chat {
		b.WriteString(`,"messages":[{"role":"user","content":"` + prompt + `"}]`)
	} else {
		b.WriteString(`,"prompt":"` + prompt + `"`)
	}
	b.WriteString(`,"max_tokens":` + strconv.Itoa(p.maxTokens))
	if p.stream {
		b.WriteString(`,"stream":true`)
		if c.IncludeUsage {
			b.WriteString(`,"stream_options":{"include_usage":true}`)
		}
	}
	b.WriteString("}")
	return b.Bytes()
}

// event is the part of a stream chunk or response body the client reads.
type event struct {
	ID      string `json:"id"`
	Choices []struct {
		Text  *string `json:"text"`
		Delta *struct {
			Content *string `json:"content"`
		} `json:"delta"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error   *struct{ Message string } `json:"error"`
	Message string                    `json:"message"` // of an error body
}

// content says whether an event carries generated text.
func (e *event) content() bool {
	for _, c := range e.Choices {
		if c.Text != nil && *c.Text != "" {
			return true
		}
		if c.Delta != nil && c.Delta.Content != nil && *c.Delta.Content != "" {
			return true
		}
	}
	return false
}

// sse splits a stream's body into events and applies them to rec; it asks to stop when
// the client should abort.
type sse struct {
	rec        *Record
	abortAfter int
	pending    []byte
	done       bool // [DONE] seen
	failed     bool // an error event seen
}

// feed takes body bytes that arrived at ns; false: close now (abort).
func (s *sse) feed(b []byte, ns uint64) bool {
	s.pending = append(s.pending, b...)
	for {
		i := bytes.Index(s.pending, []byte("\n\n"))
		if i < 0 {
			return true
		}
		ev := s.pending[:i]
		s.pending = s.pending[i+2:]
		data, ok := bytes.CutPrefix(ev, []byte("data: "))
		if !ok {
			continue
		}
		if string(data) == "[DONE]" {
			s.done = true
			continue
		}
		var e event
		if err := json.Unmarshal(data, &e); err != nil {
			s.rec.Error = "bad SSE event: " + err.Error()
			s.failed = true
			continue
		}
		if s.rec.ID == "" {
			s.rec.ID = e.ID
		}
		if e.Error != nil {
			s.rec.Error, s.failed = e.Error.Message, true
		}
		if e.Usage != nil {
			s.rec.UsageTokens = e.Usage.CompletionTokens
		}
		if e.content() {
			s.rec.Tokens++
			s.rec.TokenNS = append(s.rec.TokenNS, ns)
			if s.rec.FirstTokenNS == 0 {
				s.rec.FirstTokenNS = ns
			}
			if s.rec.Tokens == s.abortAfter {
				return false
			}
		}
	}
}

// classify sets rec's class from what came back.
func classify(rec *Record, failed bool) {
	switch {
	case rec.Aborted:
		rec.Class = truth.ClassAborted
	case rec.Status == 0:
		rec.Class = truth.ClassAborted // no response: the connection broke
	case rec.Status == 200 && failed:
		rec.Class = truth.ClassServerError
	default:
		rec.Class = truth.ClassOf(rec.Status, strings.Contains(rec.Error, "maximum context length"))
	}
}

var errTimeout = errors.New("request timed out")
