package wire

import "bytes"

// Bounds of what is kept of a body that is not an event stream.
const (
	bodyHeadMax = 8 << 10 // from the start, up to the first gap
	bodyTailMax = 512     // the last known bytes, contiguous
)

// collector keeps the head and the tail of a body for parsing at its end.
type collector struct {
	head    []byte
	headCut bool // a gap or the cap ended the head
	tail    []byte
	gap     bool // some bytes were not captured
	n       int64
}

func (c *collector) reset() {
	c.head, c.tail = c.head[:0], c.tail[:0]
	c.headCut, c.gap, c.n = false, false, 0
}

func (c *collector) write(p []byte) {
	c.n += int64(len(p))
	if !c.headCut {
		room := bodyHeadMax - len(c.head)
		take := min(room, len(p))
		c.head = append(c.head, p[:take]...)
		if take < len(p) {
			c.headCut = true
		}
	}
	if len(p) >= bodyTailMax {
		c.tail = append(c.tail[:0], p[len(p)-bodyTailMax:]...)
		return
	}
	if over := len(c.tail) + len(p) - bodyTailMax; over > 0 {
		c.tail = append(c.tail[:0], c.tail[over:]...)
	}
	c.tail = append(c.tail, p...)
}

func (c *collector) skip(n int64) {
	c.n += n
	c.headCut, c.gap = true, true
	c.tail = c.tail[:0]
}

// whole reports whether the head holds the entire body.
func (c *collector) whole() bool { return !c.headCut }

func (c *collector) release() { *c = collector{} }

// Body is what a non-streamed response body says.
type Body struct {
	ID            string
	Usage         Usage
	Error         bool   // an error object
	Message       string // its message
	ContextLength bool   // the error says the context or maximum length was exceeded
}

// ParseBody reads a non-streamed JSON body from its captured head (the first bytes, up
// to the first gap) and tail (the last bytes; nil when the head is the whole body).
// Usage is taken from the tail when the head was cut before it. status is the response
// status: a 4xx or 5xx body is searched for the context-length phrases even when it is
// not JSON.
func ParseBody(head, tail []byte, status int) Body {
	var b Body
	var d doc
	h := bytes.TrimSpace(head)
	if len(h) > 0 && h[0] == '{' {
		walkJSON(h, &d)
	}
	if d.id != nil {
		b.ID = jsonText(d.id)
	}
	b.Usage = d.usage
	if len(tail) > 0 {
		b.Usage = usageFromTail(tail, b.Usage)
	}
	b.Error = d.err
	if b.Error || status >= 400 {
		msg := d.message()
		if msg == nil {
			msg = d.topMsg
		}
		b.Message = jsonText(clip(msg, 1024))
		b.ContextLength = SaysContextLength(head, tail)
	}
	return b
}

// usageFromTail completes u from counts in the last bytes of a body whose middle was not
// captured: the last "prompt_tokens", "completion_tokens", "total_tokens" (or TGI's
// "generated_tokens") members it holds.
func usageFromTail(tail []byte, u Usage) Usage {
	for _, m := range [...]struct {
		key string
		f   UsageField
	}{
		{`"prompt_tokens"`, HasPrompt},
		{`"completion_tokens"`, HasCompletion},
		{`"total_tokens"`, HasTotal},
		{`"generated_tokens"`, HasCompletion},
		{`"input_tokens"`, HasPrompt},
		{`"output_tokens"`, HasCompletion},
	} {
		if u.Has&m.f != 0 {
			continue
		}
		if raw := memberAfter(tail, m.key); raw != nil {
			u.set(m.f, raw)
		}
	}
	return u
}

// memberAfter finds the last `key: value` in b and returns the value's first token
// (a number or a literal), or nil.
func memberAfter(b []byte, key string) []byte {
	i := bytes.LastIndex(b, []byte(key))
	if i < 0 {
		return nil
	}
	rest := bytes.TrimLeft(b[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	j := 0
	for j < len(rest) && (isNumByte(rest[j]) || (rest[j] >= 'a' && rest[j] <= 'z')) {
		j++
	}
	if j == 0 || j == len(rest) { // nothing, or the value may go on past the capture
		return nil
	}
	return rest[:j]
}

// RequestBody is what an inference request body asks for.
type RequestBody struct {
	Stream       bool
	HasStream    bool
	MaxTokens    int64
	HasMaxTokens bool
}

// reqDoc reads the members of a request body that matter.
type reqDoc struct{ RequestBody }

func (r *reqDoc) value(p *jpath, k jkind, raw []byte) {
	switch {
	case p.is("stream"):
		if k == jTrue || k == jFalse {
			r.Stream, r.HasStream = k == jTrue, true
		}
	case p.is("max_tokens"), p.is("max_completion_tokens"), p.is("n_predict"),
		p.is("parameters", "max_new_tokens"), p.is("sampling_params", "max_new_tokens"):
		if k == jNumber && !r.HasMaxTokens {
			if v, ok := jsonInt(raw); ok {
				r.MaxTokens, r.HasMaxTokens = v, true
			}
		}
	}
}

// ParseRequestBody reads stream and max_tokens (max_completion_tokens; TGI's and
// SGLang's max_new_tokens; llama.cpp's n_predict) from a request body's captured head
// and, for what the head lacks when it was cut, its tail.
func ParseRequestBody(head, tail []byte) RequestBody {
	var r reqDoc
	h := bytes.TrimSpace(head)
	if len(h) > 0 && h[0] == '{' {
		walkJSON(h, &r)
	}
	if len(tail) > 0 {
		if !r.HasStream {
			switch string(memberAfter(tail, `"stream"`)) {
			case "true":
				r.Stream, r.HasStream = true, true
			case "false":
				r.HasStream = true
			}
		}
		if !r.HasMaxTokens {
			for _, key := range [...]string{`"max_tokens"`, `"max_completion_tokens"`, `"max_new_tokens"`, `"n_predict"`} {
				if v, ok := jsonInt(memberAfter(tail, key)); ok {
					r.MaxTokens, r.HasMaxTokens = v, true
					break
				}
			}
		}
	}
	return r.RequestBody
}
