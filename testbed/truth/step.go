package truth

// Step is one engine step as the core ran it, written by testbed/engine (its stepLine
// has the same fields). Timestamps are CLOCK_MONOTONIC nanoseconds.
type Step struct {
	Kind     string `json:"kind"` // KindStep
	Index    uint64 `json:"index"`
	StartNS  uint64 `json:"start_ns"`  // just before the first launch (workers: the earliest)
	EndNS    uint64 `json:"end_ns"`    // when the wait returned (workers: the latest)
	StepKind string `json:"step_kind"` // "prefill", "decode" or "mixed"
	// Requests got a token from the step, in emission order (ids as in Request.ID).
	Requests      []string `json:"requests"`
	BatchSize     int      `json:"batch_size"` // len(Requests)
	Tokens        int      `json:"tokens"`     // tokens processed: prefill plus decode
	PrefillTokens int      `json:"prefill_tokens"`
	DecodeTokens  int      `json:"decode_tokens"`
	Launches      int      `json:"launches"`       // eager cuLaunchKernel calls per GPU
	GraphLaunches int      `json:"graph_launches"` // cuGraphLaunch calls per GPU
	PID           int      `json:"pid"`            // the process and thread that drove the GPU (workers: rank 0's)
	TID           int      `json:"tid"`
	Workers       []Worker `json:"workers,omitempty"`
	Error         int      `json:"error,omitempty"` // the CUresult that failed the step (-1: not a CUDA error)
	ErrorText     string   `json:"error_text,omitempty"`
}

// Worker is one tensor-parallel worker's share of a step.
type Worker struct {
	Rank    int    `json:"rank"`
	PID     int    `json:"pid"`
	TID     int    `json:"tid"`
	StartNS uint64 `json:"start_ns"`
	EndNS   uint64 `json:"end_ns"`
	Error   int    `json:"error,omitempty"`
}
