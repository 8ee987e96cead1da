package wire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// respSummary is what a response stream parsed into, for comparing ways of feeding it.
type respSummary struct {
	heads, interims, ends int
	content               int
	lines                 []string
	err                   error
}

func (s *respSummary) add(evs []RespEvent, err error) {
	for _, ev := range evs {
		switch ev.Kind {
		case RespHead:
			s.heads++
		case RespInterim:
			s.interims++
		case RespProgress:
			s.content += ev.Content
		case RespEnd:
			s.ends++
			r := ev.Resp
			s.lines = append(s.lines, fmt.Sprintf("%d sse=%v id=%s events=%d content=%d done=%v usage=%d/%d/%d err=%v ctx=%v body=%d close=%v degraded=%v lost=%v",
				r.Status, r.SSE, r.ID, r.Events, r.ContentEvents, r.Done, r.Usage.Prompt, r.Usage.Completion, r.Usage.Total,
				r.Error, r.ContextLength, r.BodyLen, r.CloseDelimited, r.Degraded, r.Lost))
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
}

func (s respSummary) String() string {
	return fmt.Sprintf("heads=%d interims=%d ends=%d content=%d err=%v\n  %s", s.heads, s.interims, s.ends, s.content, s.err, strings.Join(s.lines, "\n  "))
}

func respFeed(methods []string, close bool, frags ...Fragment) respSummary {
	var p ResponseParser
	for _, m := range methods {
		p.PushRequest(m)
	}
	var s respSummary
	for _, f := range frags {
		s.add(p.Feed(f))
	}
	if close {
		s.add(p.Close(), nil)
	}
	return s
}

func TestResponseParser(t *testing.T) {
	h11 := strings.Join(h11Writes(vllmChatEvents(4)), "")
	bodyLen := func(resp string) int { return len(resp) - strings.Index(resp, "\r\n\r\n") - 4 }
	for _, tc := range []struct {
		name    string
		in      string
		methods []string
		close   bool
		want    []string
		err     error
	}{
		{"vllm chat stream", h11, nil, false, []string{
			fmt.Sprintf("200 sse=true id=%s events=8 content=4 done=true usage=12/4/16 err=false ctx=false body=%d close=false degraded=false lost=false", vllmID, bodyLen(h11))}, nil},
		{"json body", jsonResp(200, "OK", vllmChatBody), nil, false, []string{
			fmt.Sprintf("200 sse=false id=chatcmpl-0a1b2c3d4e5f events=0 content=0 done=false usage=9/3/12 err=false ctx=false body=%d close=false degraded=false lost=false", len(vllmChatBody))}, nil},
		{"vllm context length", jsonResp(400, "Bad Request", vllmCtxBody), nil, false, []string{
			fmt.Sprintf("400 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=true body=%d close=false degraded=false lost=false", len(vllmCtxBody))}, nil},
		{"openai context length", jsonResp(400, "Bad Request", openaiCtx), nil, false, []string{
			fmt.Sprintf("400 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=true body=%d close=false degraded=false lost=false", len(openaiCtx))}, nil},
		{"tgi context length", jsonResp(422, "Unprocessable Entity", tgiCtxBody), nil, false, []string{
			fmt.Sprintf("422 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=true body=%d close=false degraded=false lost=false", len(tgiCtxBody))}, nil},
		{"sglang context length", jsonResp(400, "Bad Request", sglangCtx), nil, false, []string{
			fmt.Sprintf("400 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=true body=%d close=false degraded=false lost=false", len(sglangCtx))}, nil},
		{"other 400", jsonResp(400, "Bad Request", badTempBody), nil, false, []string{
			fmt.Sprintf("400 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=false body=%d close=false degraded=false lost=false", len(badTempBody))}, nil},
		{"429", jsonResp(429, "Too Many Requests", rateBody), nil, false, []string{
			fmt.Sprintf("429 sse=false id= events=0 content=0 done=false usage=0/0/0 err=true ctx=false body=%d close=false degraded=false lost=false", len(rateBody))}, nil},
		{"plain text 500", "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 21\r\n\r\nInternal Server Error", nil, false, []string{
			"500 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=21 close=false degraded=false lost=false"}, nil},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\n" + jsonResp(200, "OK", "{}"), nil, false, []string{
			"200 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=2 close=false degraded=false lost=false"}, nil},
		{"204 and head", "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n" + jsonResp(200, "OK", "[]"), []string{"POST", "HEAD", "GET"}, false, []string{
			"204 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=0 close=false degraded=false lost=false",
			"200 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=0 close=false degraded=false lost=false",
			"200 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=2 close=false degraded=false lost=false"}, nil},
		{"close delimited sse", "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n" + strings.Join(tgiEvents, ""), nil, true, []string{
			fmt.Sprintf("200 sse=true id= events=3 content=3 done=false usage=0/3/0 err=false ctx=false body=%d close=true degraded=false lost=false", len(strings.Join(tgiEvents, "")))}, nil},
		{"keep-alive pair", jsonResp(200, "OK", vllmChatBody) + strings.Join(goWrites(sglangChatEvents), ""), nil, false, []string{
			fmt.Sprintf("200 sse=false id=chatcmpl-0a1b2c3d4e5f events=0 content=0 done=false usage=9/3/12 err=false ctx=false body=%d close=false degraded=false lost=false", len(vllmChatBody)),
			fmt.Sprintf("200 sse=true id=9f7c2b1e4d events=7 content=3 done=true usage=20/7/27 err=false ctx=false body=%d close=false degraded=false lost=false", bodyLen(strings.Join(goWrites(sglangChatEvents), "")))}, nil},
		{"stream error event", strings.Join(h11Writes([]string{vllmStreamError}), ""), nil, false, []string{
			fmt.Sprintf("200 sse=true id= events=1 content=0 done=false usage=0/0/0 err=true ctx=true body=%d close=false degraded=false lost=false", bodyLen(strings.Join(h11Writes([]string{vllmStreamError}), "")))}, nil},
		{"gzip body not read", "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\n\x1f\x8b\x08\x00", nil, false, []string{
			"200 sse=false id= events=0 content=0 done=false usage=0/0/0 err=false ctx=false body=4 close=false degraded=false lost=false"}, nil},
		{"garbage", "\x16\x03\x01 tls", nil, false, nil, ErrNotHTTP},
		{"bad chunk size", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nxyz\r\n", nil, false, nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole := respFeed(tc.methods, tc.close, Bytes([]byte(tc.in)))
			if !errors.Is(whole.err, tc.err) || strings.Join(whole.lines, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %v\nwant err=%v\n  %s", whole, tc.err, strings.Join(tc.want, "\n  "))
			}
			if tc.err != nil {
				return
			}
			for i := 0; i <= len(tc.in); i++ {
				s := respFeed(tc.methods, tc.close, Bytes([]byte(tc.in[:i])), Bytes([]byte(tc.in[i:])))
				if s.String() != whole.String() {
					t.Fatalf("split at %d: %v\nwhole: %v", i, s, whole)
				}
			}
			var frags []Fragment
			for i := range len(tc.in) {
				frags = append(frags, Bytes([]byte(tc.in[i:i+1])))
			}
			if s := respFeed(tc.methods, tc.close, frags...); s.String() != whole.String() {
				t.Fatalf("byte by byte: %v\nwhole: %v", s, whole)
			}
		})
	}
}

// Both write patterns (uvicorn: one write per event and the last chunk alone; Go: the
// head with the first event, the last event with the last chunk) give the same response,
// with [DONE] seen in the right write.
func TestResponseWritePatterns(t *testing.T) {
	for name, writes := range map[string][]string{
		"h11": h11Writes(vllmChatEvents(6)),
		"go":  goWrites(vllmChatEvents(6)),
	} {
		var p ResponseParser
		var content, doneAt, endAt int
		for i, w := range writes {
			evs, err := p.Feed(Bytes([]byte(w)))
			if err != nil {
				t.Fatalf("%s write %d: %v", name, i, err)
			}
			for _, ev := range evs {
				if ev.Kind == RespProgress {
					content += ev.Content
					if ev.Done {
						doneAt = i
					}
				}
				if ev.Kind == RespEnd {
					endAt = i
				}
			}
		}
		wantDone, wantEnd := len(writes)-2, len(writes)-1
		if name == "go" {
			wantDone = len(writes) - 1
		}
		if content != 6 || doneAt != wantDone || endAt != wantEnd {
			t.Errorf("%s: content %d, [DONE] in write %d (want %d), end in write %d (want %d)", name, content, doneAt, wantDone, endAt, wantEnd)
		}
	}
}

// Writes larger than the capture: content-length and chunk framing follow true lengths;
// a chunk header in a gap loses the framing until a write starts with a chunk.
func TestResponseTruncated(t *testing.T) {
	// A non-streamed body of 20 KB: id from the head, usage from the tail.
	text := strings.Repeat("word ", 4000)
	body := `{"id":"cmpl-big","object":"text_completion","choices":[{"index":0,"text":"` + text + `","finish_reason":"length"}],"usage":{"prompt_tokens":5,"total_tokens":4005,"completion_tokens":4000}}`
	w := jsonResp(200, "OK", body)
	s := respFeed(nil, false, Truncated([]byte(w[:4096]), []byte(w[len(w)-256:]), int64(len(w))), Bytes([]byte(jsonResp(200, "OK", "{}"))))
	want := fmt.Sprintf("200 sse=false id=cmpl-big events=0 content=0 done=false usage=5/4000/4005 err=false ctx=false body=%d close=false degraded=false lost=false", len(body))
	if s.ends != 2 || s.lines[0] != want {
		t.Fatalf("big body: %v\nwant %s", s, want)
	}

	// A streamed write with many events, larger than the capture, whose gap swallows
	// chunk headers (a Go server that coalesced writes): lost, then resumed at the next
	// write, degraded.
	evs := vllmChatEvents(60)
	var coalesced strings.Builder
	for _, e := range evs[1:41] {
		coalesced.WriteString(chunk(e))
	}
	cw := coalesced.String()
	// Content events read before the gap: each whose content's first character was captured.
	seen, off := 0, 0
	for _, e := range evs[1:41] {
		if i := strings.Index(chunk(e), `"content":" t`); i >= 0 && off+i+len(`"content":" `) < 4096 {
			seen++
		}
		off += len(chunk(e))
	}
	frags := []Fragment{Bytes([]byte(sseHead + chunk(evs[0]))), Truncated([]byte(cw[:4096]), []byte(cw[len(cw)-256:]), int64(len(cw)))}
	for _, e := range evs[41:] {
		frags = append(frags, Bytes([]byte(chunk(e))))
	}
	frags = append(frags, Bytes([]byte(lastChunk)))
	s = respFeed(nil, false, frags...)
	if s.ends != 1 || !strings.Contains(s.lines[0], "done=true") || !strings.Contains(s.lines[0], "degraded=true") ||
		!strings.Contains(s.lines[0], "usage=12/60/72") || s.content != seen+20 {
		t.Fatalf("coalesced write with a gap: %v", s)
	}

	// The gap holds the end of the response and the next head: the response is lost until
	// the next write that starts with a status line, which ends it.
	s = respFeed(nil, false, Bytes([]byte(sseHead)), Truncated([]byte(cw[:100]), nil, int64(len(cw))),
		Bytes([]byte(jsonResp(200, "OK", vllmChatBody))))
	if s.ends != 2 || !strings.Contains(s.lines[0], "lost=true") || !strings.Contains(s.lines[1], "usage=9/3/12") {
		t.Fatalf("lost response ended by the next head: %v", s)
	}

	// Lost with the last chunk at the end of a later write: the response still ends.
	s = respFeed(nil, false, Bytes([]byte(sseHead)), Truncated([]byte(cw[:100]), nil, int64(len(cw))),
		Bytes([]byte("garbage\r\n"+chunk(evs[len(evs)-1])+lastChunk)))
	if s.ends != 1 || !strings.Contains(s.lines[0], "degraded=true") || strings.Contains(s.lines[0], "lost=true") {
		t.Fatalf("lost response ended by its last chunk: %v", s)
	}
}

func TestResponseUpgrade(t *testing.T) {
	var p ResponseParser
	p.PushRequest("GET")
	evs, err := p.Feed(Bytes([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello")))
	if err != nil || len(evs) != 2 || evs[1].Kind != RespEnd || !evs[1].Resp.Upgrade {
		t.Fatalf("101: %v %+v", err, evs)
	}
	if evs, err := p.Feed(Bytes([]byte("\x81\x05hello"))); err != nil || len(evs) != 0 {
		t.Fatalf("after 101: %v %+v", err, evs)
	}
}
