// Package proto is the wire between a testbed API server (the front end: Go or the
// uvicorn app) and the testbed engine core, as vLLM V1 splits them. With --procs 1 the
// same messages pass through Go channels; with --procs 2 (and --frontend uvicorn) they
// are JSON lines over a unix stream socket, one Msg a line, in both directions.
package proto

// Op names a message.
type Op string

const (
	// front end -> core
	OpAdd   Op = "add"   // a new request (Add set)
	OpAbort Op = "abort" // the client went away: free the request (ID set)
	// core -> front end
	OpStep   Op = "step"   // one engine step finished: every request that got a token (Step set)
	OpReject Op = "reject" // the request was not admitted (ID, Status, Error set): 429 when the waiting queue is full
	OpFail   Op = "fail"   // the request failed in the core (ID, Status, Error set): 500 on an injected fault
)

// Msg is one message; Op says which fields are set.
type Msg struct {
	Op     Op     `json:"op"`
	ID     string `json:"id,omitempty"`
	Add    *Add   `json:"add,omitempty"`
	Step   *Step  `json:"step,omitempty"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Add is a request handed to the core.
type Add struct {
	ID           string `json:"id"`
	PromptTokens int    `json:"prompt_tokens"`
	MaxTokens    int    `json:"max_tokens"`
	ArrivalNS    uint64 `json:"arrival_ns"` // CLOCK_MONOTONIC, as the front end read it
}

// Step is the output of one engine step.
type Step struct {
	Index   uint64  `json:"index"`
	StartNS uint64  `json:"start_ns"` // CLOCK_MONOTONIC just before the step's first launch
	EndNS   uint64  `json:"end_ns"`   // CLOCK_MONOTONIC when the step's wait returned
	Kind    string  `json:"kind"`     // "prefill", "decode" or "mixed"
	Tokens  []Token `json:"tokens"`
}

// Token is one generated token for one request.
type Token struct {
	ID       string `json:"id"`
	Index    int    `json:"index"` // 0 for the first token of the request
	Text     string `json:"text"`
	Finished bool   `json:"finished,omitempty"`
	Reason   string `json:"reason,omitempty"` // "length" or "stop" when Finished
	// ScheduledNS is when the request was first scheduled (set with Index 0).
	ScheduledNS uint64 `json:"scheduled_ns,omitempty"`
	// PrefillStartNS is the start of the request's first prefill step (set with Index 0;
	// with chunked prefill the first of its prefill chunks).
	PrefillStartNS uint64 `json:"prefill_start_ns,omitempty"`
	PromptTokens   int    `json:"prompt_tokens,omitempty"` // set with Finished
}
