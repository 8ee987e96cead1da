package frontend

import "strconv"

// response holds what every chunk and body of one completion repeats.
type response struct {
	id      string
	chat    bool
	created int64
	model   string
	usage   bool // stream_options.include_usage
}

// head appends {"id":...,"object":...,"created":...,"model":..., for a chunk (or, with
// full, the non-streamed object).
func (r *response) head(b []byte, full bool) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.id)
	switch {
	case r.chat && full:
		b = append(b, `,"object":"chat.completion"`...)
	case r.chat:
		b = append(b, `,"object":"chat.completion.chunk"`...)
	default:
		b = append(b, `,"object":"text_completion"`...)
	}
	b = append(b, `,"created":`...)
	b = strconv.AppendInt(b, r.created, 10)
	b = append(b, `,"model":`...)
	b = appendString(b, r.model)
	return b
}

// appendReason appends a finish_reason value: null while the stream goes on.
func appendReason(b []byte, reason string) []byte {
	if reason == "" {
		return append(b, "null"...)
	}
	return appendString(b, reason)
}

// tokenChunk appends one streamed token's JSON: a text_completion choice with "text",
// or a chat chunk whose delta carries the content.
func (r *response) tokenChunk(b []byte, text, reason string) []byte {
	b = r.head(b, false)
	if r.chat {
		b = append(b, `,"choices":[{"index":0,"delta":{"content":`...)
		b = appendString(b, text)
		b = append(b, `},"logprobs":null,"finish_reason":`...)
		b = appendReason(b, reason)
	} else {
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = appendString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = appendReason(b, reason)
		b = append(b, `,"stop_reason":null`...)
	}
	b = append(b, "}]"...)
	if r.usage {
		b = append(b, `,"usage":null`...)
	}
	return append(b, '}')
}

// roleChunk appends the chat stream's first chunk, which names the role and carries no
// content (vLLM sends it when the first output arrives).
func (r *response) roleChunk(b []byte) []byte {
	b = r.head(b, false)
	b = append(b, `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
	if r.usage {
		b = append(b, `,"usage":null`...)
	}
	return append(b, '}')
}

func appendUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	return append(b, '}')
}

// usageChunk appends the last chunk of a stream with include_usage: no choices, usage.
func (r *response) usageChunk(b []byte, prompt, completion int) []byte {
	b = r.head(b, false)
	b = append(b, `,"choices":[],"usage":`...)
	b = appendUsage(b, prompt, completion)
	return append(b, '}')
}

// errorChunk appends the event vLLM streams when a request fails after its stream began.
func errorChunk(b []byte, status int, msg string) []byte {
	b = append(b, `{"error":`...)
	b = append(b, errorJSON(status, msg)...)
	return append(b, '}')
}

// full appends the non-streamed response object.
func (r *response) full(b []byte, text, reason string, prompt, completion int) []byte {
	b = r.head(b, true)
	if r.chat {
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		b = appendString(b, text)
		b = append(b, `},"logprobs":null,"finish_reason":`...)
		b = appendReason(b, reason)
	} else {
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = appendString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
		b = appendReason(b, reason)
		b = append(b, `,"stop_reason":null`...)
	}
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, prompt, completion)
	return append(b, '}')
}

// sseChunk appends payload as one SSE event ("data: payload\n\n") framed as one chunk
// of chunked transfer encoding.
func sseChunk(b []byte, payload []byte) []byte {
	n := len("data: ") + len(payload) + 2
	b = strconv.AppendInt(b, int64(n), 16)
	b = append(b, "\r\ndata: "...)
	b = append(b, payload...)
	return append(b, "\n\n\r\n"...)
}

// doneTail is the stream's end in one write: the [DONE] event's chunk and the
// terminating zero-length chunk.
const doneTail = "e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"
