package wire

import "bytes"

// UsageField says which counts a Usage holds.
type UsageField uint8

const (
	HasPrompt UsageField = 1 << iota
	HasCompletion
	HasTotal
)

// Usage is the token accounting a response carried (OpenAI usage, TGI details,
// SGLang meta_info, llama.cpp counters). Has says which counts were present.
type Usage struct {
	Prompt     int64 `json:"prompt_tokens"`
	Completion int64 `json:"completion_tokens"`
	Total      int64 `json:"total_tokens"`
	Has        UsageField
}

// Present reports whether the response carried any count.
func (u Usage) Present() bool { return u.Has != 0 }

func (u *Usage) set(f UsageField, raw []byte) {
	v, ok := jsonInt(raw)
	if !ok {
		return
	}
	switch f {
	case HasPrompt:
		u.Prompt = v
	case HasCompletion:
		u.Completion = v
	case HasTotal:
		u.Total = v
	}
	u.Has |= f
}

// merge takes o's counts over u's: a later event's usage is the more complete one.
func (u *Usage) merge(o Usage) {
	if o.Has&HasPrompt != 0 {
		u.Prompt = o.Prompt
	}
	if o.Has&HasCompletion != 0 {
		u.Completion = o.Completion
	}
	if o.Has&HasTotal != 0 {
		u.Total = o.Total
	}
	u.Has |= o.Has
}

// doc collects what the walker finds in an SSE event or a response body.
type doc struct {
	object     bool // the top is an object
	inference  bool // it has the shape of an inference event (choices, token, text...)
	content    bool
	id         []byte
	usage      Usage
	err        bool
	objError   bool   // "object": "error" (vLLM's older error shape)
	errMsg     []byte // error.message, or error when a string
	topMsg     []byte // message or detail at the top
	partialMsg bool
}

func (d *doc) value(p *jpath, k jkind, raw []byte) {
	if p.n == 0 {
		d.object = k == jObject
		return
	}
	nonEmpty := (k == jString || k == jPartial) && len(raw) > 0
	switch p.key(0) {
	case "id":
		if p.n == 1 && k == jString && d.id == nil {
			d.id = raw
		}
	case "object":
		if p.n == 1 && k == jString && string(raw) == "error" {
			d.err, d.objError = true, true
		}
	case "error":
		switch {
		case p.n == 1 && k != jNull && k != jFalse:
			d.err = true
			if k == jString || k == jPartial {
				d.errMsg, d.partialMsg = raw, k == jPartial
			}
		case p.is("error", "message") && (k == jString || k == jPartial):
			d.errMsg, d.partialMsg = raw, k == jPartial
		}
	case "message", "detail":
		if p.n == 1 && (k == jString || k == jPartial) && d.topMsg == nil {
			d.topMsg = raw
		}
	case "choices":
		d.inference = true
		d.choice(p, k, nonEmpty)
	case "usage":
		d.usageValue(p, k, raw)
	case "token": // TGI /generate_stream: every event with a token is a generated token
		if p.n == 1 && k == jObject {
			d.inference, d.content = true, true
		}
	case "details": // TGI: the last event's details
		if p.is("details", "generated_tokens") && k == jNumber {
			d.usage.set(HasCompletion, raw)
		}
	case "meta_info": // SGLang native /generate
		d.inference = true
		switch {
		case p.is("meta_info", "id") && k == jString && d.id == nil:
			d.id = raw
		case p.is("meta_info", "prompt_tokens") && k == jNumber:
			d.usage.set(HasPrompt, raw)
		case p.is("meta_info", "completion_tokens") && k == jNumber:
			d.usage.set(HasCompletion, raw)
		}
	case "text", "content": // SGLang native text; llama.cpp /completion content
		if p.n == 1 && (k == jString || k == jPartial) {
			d.inference = true
			d.content = d.content || nonEmpty
		}
	case "delta": // Anthropic-style content_block_delta
		if p.is("delta", "text") && nonEmpty {
			d.inference, d.content = true, true
		}
	case "tokens_predicted": // llama.cpp
		if p.n == 1 && k == jNumber {
			d.usage.set(HasCompletion, raw)
		}
	case "tokens_evaluated":
		if p.n == 1 && k == jNumber {
			d.usage.set(HasPrompt, raw)
		}
	}
}

// choice handles choices[i]...: completion text, chat delta content, reasoning, tool calls.
func (d *doc) choice(p *jpath, k jkind, nonEmpty bool) {
	if p.n < 3 || p.keys[1] != nil {
		return
	}
	switch p.key(2) {
	case "text":
		d.content = d.content || (p.n == 3 && nonEmpty)
	case "delta":
		switch {
		case p.n == 4:
			switch p.key(3) {
			case "content", "reasoning_content", "reasoning":
				d.content = d.content || nonEmpty
			case "function_call":
				d.content = d.content || k == jObject
			}
		case p.n == 5 && p.key(3) == "tool_calls" && p.keys[4] == nil:
			d.content = true
		}
	}
}

func (d *doc) usageValue(p *jpath, k jkind, raw []byte) {
	if p.n != 2 || k != jNumber {
		return
	}
	switch p.key(1) {
	case "prompt_tokens", "input_tokens":
		d.usage.set(HasPrompt, raw)
	case "completion_tokens", "output_tokens":
		d.usage.set(HasCompletion, raw)
	case "total_tokens":
		d.usage.set(HasTotal, raw)
	}
}

// message is the error text the document carried.
func (d *doc) message() []byte {
	if d.errMsg != nil {
		return d.errMsg
	}
	if d.objError || d.err {
		return d.topMsg
	}
	return nil
}

// contextPhrases are what engines say when a request does not fit the context window
// (lower case): vLLM and OpenAI, OpenAI's code, TGI's InputLength and MaxTotalTokens,
// SGLang, vLLM V1's input processor, llama.cpp.
var contextPhrases = [...]string{
	"maximum context length",
	"context_length_exceeded",
	"must have less than",
	"tokens + `max_new_tokens` must be",
	"longer than the model's context length",
	"longer than the maximum model length",
	"exceeds the available context size",
	"exceed_context_size_error",
}

// SaysContextLength reports whether an error text says the context or maximum length
// was exceeded.
func SaysContextLength(texts ...[]byte) bool {
	for _, t := range texts {
		if len(t) == 0 {
			continue
		}
		low := bytes.ToLower(t)
		for _, ph := range contextPhrases {
			if bytes.Contains(low, []byte(ph)) {
				return true
			}
		}
	}
	return false
}
