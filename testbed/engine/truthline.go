package engine

// stepLine is the ground truth of one step, appended to --truth as one JSON line. It is
// a superset of truth.Step (same names for the fields both have).
type stepLine struct {
	Kind          string   `json:"kind"` // "step"
	Index         uint64   `json:"index"`
	StartNS       uint64   `json:"start_ns"` // CLOCK_MONOTONIC just before the first launch (workers: the earliest); 0 if the step failed before it
	EndNS         uint64   `json:"end_ns"`   // when the wait returned (workers: the latest)
	StepKind      string   `json:"step_kind"`
	Requests      []string `json:"requests"`   // the requests that got a token, in emission order
	BatchSize     int      `json:"batch_size"` // len(Requests)
	Tokens        int      `json:"tokens"`     // tokens processed: prefill plus decode
	PrefillTokens int      `json:"prefill_tokens"`
	DecodeTokens  int      `json:"decode_tokens"`
	// Launches are the eager cuLaunchKernel calls per GPU; GraphLaunches the cuGraphLaunch calls.
	Launches      int            `json:"launches"`
	GraphLaunches int            `json:"graph_launches"`
	PID           int            `json:"pid"` // the process and thread that drove the GPU (workers: rank 0's)
	TID           int            `json:"tid"`
	Workers       []workerTiming `json:"workers,omitempty"`
	Error         int            `json:"error,omitempty"` // the CUresult that failed the step (-1: not a CUDA error)
	ErrorText     string         `json:"error_text,omitempty"`
}

// workerTiming is one worker's share of a step.
type workerTiming struct {
	Rank    int    `json:"rank"`
	PID     int    `json:"pid"`
	TID     int    `json:"tid"`
	StartNS uint64 `json:"start_ns"`
	EndNS   uint64 `json:"end_ns"`
	Error   int    `json:"error,omitempty"`
}
