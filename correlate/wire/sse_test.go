package wire

import (
	"strings"
	"testing"
)

// kinds counts events by kind and keeps what a response would keep.
type sseSummary struct {
	kinds  [EventError + 1]int
	id     string
	usage  Usage
	ctxLen bool
	msg    string
}

func (s *sseSummary) add(evs []SSEEvent) {
	for _, ev := range evs {
		s.kinds[ev.Kind]++
		if s.id == "" {
			s.id = ev.ID
		}
		s.usage.merge(ev.Usage)
		s.ctxLen = s.ctxLen || ev.ContextLength
		if s.msg == "" {
			s.msg = ev.Message
		}
	}
}

func sseWhole(in string) sseSummary {
	var p SSEParser
	var s sseSummary
	s.add(p.Feed(Bytes([]byte(in))))
	s.add(p.End())
	return s
}

func TestSSEStreams(t *testing.T) {
	type want struct {
		content, empty, usage, done, errs, other int
		id                                       string
		usage_                                   Usage
		ctx                                      bool
	}
	for _, tc := range []struct {
		name string
		in   string
		want want
	}{
		{"vllm chat", strings.Join(vllmChatEvents(5), ""), want{content: 5, empty: 2, usage: 1, done: 1, id: vllmID,
			usage_: Usage{Prompt: 12, Completion: 5, Total: 17, Has: HasPrompt | HasCompletion | HasTotal}}},
		{"vllm completion", strings.Join(vllmCompletionEvents, ""), want{content: 2, empty: 1, done: 1, id: "cmpl-5d1c9e0f2b3a4c6d"}},
		{"sglang chat", strings.Join(sglangChatEvents, ""), want{content: 3, empty: 2, usage: 1, done: 1, id: "9f7c2b1e4d",
			usage_: Usage{Prompt: 20, Completion: 7, Total: 27, Has: HasPrompt | HasCompletion | HasTotal}}},
		{"sglang native", strings.Join(sglangNativeEvents, ""), want{content: 2, done: 1, id: "a1b2c3",
			usage_: Usage{Prompt: 6, Completion: 2, Has: HasPrompt | HasCompletion}}},
		{"tgi generate_stream", strings.Join(tgiEvents, ""), want{content: 3,
			usage_: Usage{Completion: 3, Has: HasCompletion}}},
		{"tgi error", tgiErrorEvent, want{errs: 1, ctx: true}},
		{"vllm error", vllmStreamError, want{errs: 1, ctx: true}},
		{"named error event", "event: error\ndata: upstream went away\n\n", want{errs: 1}},
		{"comments and keep-alive", ": ping\n\n:\n\ndata: hello\n\n", want{other: 1}},
		{"crlf lines", "data: {\"choices\":[{\"text\":\"a\"}]}\r\n\r\ndata: [DONE]\r\n\r\n", want{content: 1, done: 1}},
		{"multi-line data", "data: {\"choices\":\ndata: [{\"text\":\"a\"}]}\n\n", want{content: 1}},
		{"no final blank line", "data: [DONE]", want{done: 1}},
		{"anthropic-style delta", "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n", want{content: 1}},
		{"llama.cpp", "data: {\"content\":\" the\",\"stop\":false}\n\ndata: {\"content\":\"\",\"stop\":true,\"tokens_predicted\":9,\"tokens_evaluated\":4}\n\n",
			want{content: 1, usage: 1, usage_: Usage{Prompt: 4, Completion: 9, Has: HasPrompt | HasCompletion}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sseWhole(tc.in)
			w := tc.want
			got := [...]int{s.kinds[EventContent], s.kinds[EventEmpty], s.kinds[EventUsage], s.kinds[EventDone], s.kinds[EventError], s.kinds[EventOther]}
			exp := [...]int{w.content, w.empty, w.usage, w.done, w.errs, w.other}
			if got != exp {
				t.Errorf("content/empty/usage/done/error/other = %v, want %v", got, exp)
			}
			if s.id != w.id {
				t.Errorf("id = %q, want %q", s.id, w.id)
			}
			if s.usage != w.usage_ {
				t.Errorf("usage = %+v, want %+v", s.usage, w.usage_)
			}
			if s.ctxLen != w.ctx {
				t.Errorf("context length = %v, want %v (message %q)", s.ctxLen, w.ctx, s.msg)
			}
			// The same stream split at every byte, and byte by byte, gives the same events.
			for i := 0; i <= len(tc.in); i++ {
				var p SSEParser
				var sp sseSummary
				sp.add(p.Feed(Bytes([]byte(tc.in[:i]))))
				sp.add(p.Feed(Bytes([]byte(tc.in[i:]))))
				sp.add(p.End())
				if sp != s {
					t.Fatalf("split at %d: %+v, whole %+v", i, sp, s)
				}
			}
			var p SSEParser
			var sb sseSummary
			for i := range len(tc.in) {
				sb.add(p.Feed(Bytes([]byte(tc.in[i : i+1]))))
			}
			sb.add(p.End())
			if sb != s {
				t.Fatalf("byte by byte: %+v, whole %+v", sb, s)
			}
		})
	}
}

func TestClassifyEvent(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       EventKind
	}{
		{"", `{"choices":[{"delta":{"role":"assistant"}}]}`, EventEmpty},
		{"", `{"choices":[{"delta":{"content":null}}]}`, EventEmpty},
		{"", `{"choices":[{"delta":{"content":""}}]}`, EventEmpty},
		{"", `{"choices":[{"delta":{"content":"x"}}]}`, EventContent},
		{"", `{"choices":[{"delta":{"reasoning_content":"hm"}}]}`, EventContent},
		{"", `{"choices":[{"delta":{"reasoning":"hm"}}]}`, EventContent},
		{"", `{"choices":[{"delta":{"tool_calls":[]}}]}`, EventEmpty},
		{"", `{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}`, EventContent},
		{"", `{"choices":[{"delta":{"function_call":{"name":"f"}}}]}`, EventContent},
		{"", `{"choices":[{"index":0,"text":""}],"usage":{"completion_tokens":3}}`, EventUsage},
		{"", `{"choices":[{"index":0,"text":"a"}],"usage":{"completion_tokens":3}}`, EventContent},
		{"", `{"choices":[],"usage":null}`, EventEmpty},
		{"", `{"object":"error","message":"boom"}`, EventError},
		{"", `{"error":null,"choices":[{"text":"a"}]}`, EventContent},
		{"error", `{"message":"x"}`, EventError},
		{"", `[DONE]`, EventDone},
		{"", ` [DONE] `, EventDone},
		{"", `plain text`, EventOther},
		{"", `{"unrelated":true}`, EventOther},
		{"", `{"choices":[{"delta":{"content":"cut off`, EventContent},
		{"", `{"token":{"id":1,"text":"","special":true}}`, EventContent},
	} {
		if got := ClassifyEvent([]byte(tc.name), []byte(tc.data)).Kind; got != tc.want {
			t.Errorf("ClassifyEvent(%q, %s) = %v, want %v", tc.name, tc.data, got, tc.want)
		}
	}
}

// A gap that cuts an event counts the event once (from what was read) and resumes at the
// next blank line; a fragment that starts with an SSE field resumes at once.
func TestSSEGaps(t *testing.T) {
	evs := vllmChatEvents(3) // role, 3 content, finish, usage, done
	big := evs[1] + evs[2] + evs[3]
	// Capture a write holding three content events up to the first one's content, and a
	// 30-byte tail.
	cut := strings.Index(big, `"content":" t`) + 13
	f := Truncated([]byte(big[:cut]), []byte(big[len(big)-30:]), int64(len(big)))
	var p SSEParser
	var s sseSummary
	s.add(p.Feed(Bytes([]byte(evs[0]))))
	s.add(p.Feed(f))
	if s.kinds[EventContent] != 1 {
		t.Errorf("content events through the gap = %d, want 1 (the cut one)", s.kinds[EventContent])
	}
	for _, e := range evs[4:] {
		s.add(p.Feed(Bytes([]byte(e))))
	}
	if s.kinds[EventDone] != 1 || s.kinds[EventUsage] != 1 || s.usage.Completion != 3 {
		t.Errorf("after resync: %+v", s)
	}
	if p.Gaps() != 1 {
		t.Errorf("gaps = %d, want 1", p.Gaps())
	}

	// A gap mid-line followed by a fragment whose tail holds a whole event: the tail's
	// event after the first blank line counts.
	two := evs[1] + evs[2]
	f = Truncated([]byte(two[:cut]), []byte(two[len(two)-len(evs[2])-2:]), int64(len(two)))
	var q SSEParser
	var s2 sseSummary
	s2.add(q.Feed(f))
	if s2.kinds[EventContent] != 2 {
		t.Errorf("cut event + tail event = %d content, want 2", s2.kinds[EventContent])
	}
	// Cut before the content: the cut event is not content.
	var r SSEParser
	var s3 sseSummary
	s3.add(r.Feed(Truncated([]byte(two[:40]), []byte(two[len(two)-len(evs[2])-2:]), int64(len(two)))))
	if s3.kinds[EventContent] != 1 || s3.kinds[EventOther] != 1 {
		t.Errorf("event cut before its content: %+v", s3.kinds)
	}
}

func TestSSELineCap(t *testing.T) {
	long := `data: {"id":"x1","choices":[{"index":0,"delta":{"content":"` + strings.Repeat("a", 3*maxLine) + `"}}]}` + "\n\n"
	s := sseWhole(long + "data: [DONE]\n\n")
	if s.kinds[EventContent] != 1 || s.kinds[EventDone] != 1 || s.id != "x1" {
		t.Errorf("over-long event: %+v", s)
	}
}
