package frontend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// completion is a parsed /v1/completions or /v1/chat/completions request.
type completion struct {
	chat         bool
	stream       bool
	includeUsage bool
	promptTokens int
	maxTokens    int
}

// completionBody is the JSON the two endpoints accept (the fields the testbed honours).
type completionBody struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	// PromptTokens is testbed-only: the prompt's length in tokens, instead of a prompt.
	PromptTokens *int `json:"prompt_tokens"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// apiError is an error response in the OpenAI format vLLM sends.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func newAPIError(status int, format string, a ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, a...)}
}

// errorType is the "type" vLLM's ErrorResponse carries for a status.
func errorType(status int) string {
	switch status {
	case 400:
		return "BadRequestError"
	case 404:
		return "NotFoundError"
	case 405:
		return "MethodNotAllowedError"
	case 413:
		return "RequestEntityTooLargeError"
	case 429:
		return "RateLimitError"
	case 431:
		return "RequestHeaderFieldsTooLargeError"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadRequestError"
}

// errorJSON is {"object":"error","message":...,"type":...,"param":null,"code":status}.
func errorJSON(status int, msg string) []byte {
	b := []byte(`{"object":"error","message":`)
	b = appendString(b, msg)
	b = append(b, `,"type":`...)
	b = appendString(b, errorType(status))
	b = append(b, `,"param":null,"code":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(b, '}')
}

// contextLengthError is vLLM's message for a request longer than the model allows.
func contextLengthError(maxLen, prompt, completion int) *apiError {
	if completion <= 0 {
		return newAPIError(400, "This model's maximum context length is %d tokens. However, your request has %d input tokens. Please reduce the length of the input messages.", maxLen, prompt)
	}
	return newAPIError(400, "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.", maxLen, prompt+completion, prompt, completion)
}

// parseCompletion decodes and validates a request body. The error is an *apiError.
func parseCompletion(body []byte, chat bool, model string, maxModelLen int) (*completion, *apiError) {
	var in completionBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, newAPIError(400, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return nil, newAPIError(400, "invalid JSON body: data after the JSON object")
	}
	if in.Model != "" && in.Model != model {
		return nil, newAPIError(404, "The model `%s` does not exist.", in.Model)
	}
	if in.N != nil && *in.N != 1 {
		return nil, newAPIError(400, "n must be 1 in this testbed, got %d.", *in.N)
	}
	c := &completion{chat: chat, stream: in.Stream}
	if in.StreamOptions != nil {
		if !in.Stream {
			return nil, newAPIError(400, "Stream options can only be defined when `stream=True`.")
		}
		c.includeUsage = in.StreamOptions.IncludeUsage
	}
	var err *apiError
	switch {
	case in.PromptTokens != nil:
		c.promptTokens = *in.PromptTokens
	case chat:
		c.promptTokens, err = countMessages(in.Messages)
	default:
		c.promptTokens, err = countPrompt(in.Prompt)
	}
	if err != nil {
		return nil, err
	}
	if c.promptTokens < 1 {
		return nil, newAPIError(400, "the prompt must have at least 1 token, got %d", c.promptTokens)
	}
	maxTokens := in.MaxTokens
	if chat && in.MaxCompletionTokens != nil {
		maxTokens = in.MaxCompletionTokens
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return nil, newAPIError(400, "max_tokens must be at least 1, got %d.", *maxTokens)
		}
		if c.promptTokens+*maxTokens > maxModelLen {
			return nil, contextLengthError(maxModelLen, c.promptTokens, *maxTokens)
		}
		c.maxTokens = *maxTokens
	} else {
		// vLLM's default: whatever room the context leaves.
		if c.promptTokens >= maxModelLen {
			return nil, contextLengthError(maxModelLen, c.promptTokens, 0)
		}
		c.maxTokens = maxModelLen - c.promptTokens
	}
	return c, nil
}

// countPrompt counts whitespace-separated words of a string prompt (or of a one-string
// list), or the ids of a token-id list.
func countPrompt(raw json.RawMessage) (int, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, newAPIError(400, "prompt is required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(strings.Fields(s)), nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil {
		return len(ids), nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		if len(list) != 1 {
			return 0, newAPIError(400, "only one prompt per request is supported, got %d", len(list))
		}
		return len(strings.Fields(list[0])), nil
	}
	return 0, newAPIError(400, "prompt must be a string or a list of token ids")
}

// countMessages counts the words of every message's text content.
func countMessages(msgs []chatMessage) (int, *apiError) {
	if len(msgs) == 0 {
		return 0, newAPIError(400, "messages is required")
	}
	n := 0
	for i, m := range msgs {
		if m.Role == "" {
			return 0, newAPIError(400, "messages[%d].role is required", i)
		}
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			n += len(strings.Fields(s))
			continue
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(m.Content, &parts); err != nil {
			return 0, newAPIError(400, "messages[%d].content must be a string or a list of parts", i)
		}
		for _, p := range parts {
			if p.Type == "text" {
				n += len(strings.Fields(p.Text))
			}
		}
	}
	return n, nil
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
