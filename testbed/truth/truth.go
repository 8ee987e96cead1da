package truth

import "golang.org/x/sys/unix"

// Line kinds: the value of the "kind" field of every truth line.
const (
	KindRequest = "request"
	KindStep    = "step"
)

// Error classes of a request, as design.md defines them.
const (
	ClassOK            = "ok"
	ClassRateLimited   = "rate_limited"   // 429
	ClassContextLength = "context_length" // 4xx whose body says the context length was exceeded
	ClassBadRequest    = "bad_request"    // other 4xx
	ClassServerError   = "server_error"   // 5xx, or an error event inside a 200 stream
	ClassAborted       = "aborted"        // the client closed before the end
)

// Request is one HTTP request as the front end served it. Timestamps are CLOCK_MONOTONIC
// nanoseconds; 0 means the moment never happened (a rejected request is never scheduled).
type Request struct {
	Kind string `json:"kind"` // KindRequest
	// ID is the response id the server sent ("cmpl-<hex>", "chatcmpl-<hex>"), also the
	// id the core knows the request by; for paths other than the completions it is still
	// unique but never sent.
	ID string `json:"id"`
	// RequestID is the client's X-Request-Id header, when it sent one (the id is then
	// "cmpl-"+RequestID, as vLLM does).
	RequestID string `json:"request_id,omitempty"`
	Frontend  string `json:"frontend"` // "go" or "uvicorn"
	PID       int    `json:"pid"`      // the front end process
	Method    string `json:"method"`
	Path      string `json:"path"`
	Stream    bool   `json:"stream"`
	// ArrivalNS is taken right after the read(2) that returned the request line's first
	// bytes.
	ArrivalNS uint64 `json:"arrival_ns"`
	// FirstScheduledNS is when the core first scheduled the request.
	FirstScheduledNS uint64 `json:"first_scheduled_ns,omitempty"`
	// PrefillStartNS is the start of the request's first prefill step.
	PrefillStartNS uint64 `json:"prefill_start_ns,omitempty"`
	// PrefillStep is the index of the step that produced the first token.
	PrefillStep *uint64 `json:"prefill_step,omitempty"`
	// TokenNS holds, for a streamed response, the time right after the write(2) of each
	// content-carrying SSE event returned, one per generated token in order. A
	// non-streamed response carries all tokens in one write: TokenNS is empty.
	TokenNS []uint64 `json:"token_ns,omitempty"`
	// FirstTokenNS is the first write that carried generated content: TokenNS[0] for a
	// stream, the response write for a non-streamed completion.
	FirstTokenNS uint64 `json:"first_token_ns,omitempty"`
	// EndNS is after the write that completed the response, or when the front end saw
	// the client's close (an aborted request).
	EndNS            uint64 `json:"end_ns"`
	PromptTokens     int    `json:"prompt_tokens"`
	CompletionTokens int    `json:"completion_tokens"` // tokens sent to the client
	MaxTokens        int    `json:"max_tokens,omitempty"`
	FinishReason     string `json:"finish_reason,omitempty"`
	Status           int    `json:"status"` // the HTTP status sent (200 for a stream that then failed)
	Class            string `json:"class"`
	Error            string `json:"error,omitempty"` // the error message sent, if any
}

// Now returns CLOCK_MONOTONIC in nanoseconds, the clock of every truth timestamp (and of
// bpf_ktime_get_ns).
func Now() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}

// ClassOf returns the error class of an HTTP response: status is what was sent,
// contextLength whether a 4xx body said the maximum context length was exceeded.
func ClassOf(status int, contextLength bool) string {
	switch {
	case status == 429:
		return ClassRateLimited
	case status >= 400 && status < 500 && contextLength:
		return ClassContextLength
	case status >= 400 && status < 500:
		return ClassBadRequest
	case status >= 500:
		return ClassServerError
	}
	return ClassOK
}
