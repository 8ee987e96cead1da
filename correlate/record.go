package correlate

// Request is one finished request, a line of requests.jsonl. Unknown values are null.
type Request struct {
	ID     string `json:"id"` // the response id the server sent, else a generated one
	Unit   string `json:"unit"`
	PID    uint32 `json:"pid"`
	Path   string `json:"path"`
	Status *int   `json:"status"`
	Class  string `json:"class"`
	Stream bool   `json:"stream"`

	// Partial: the request was in flight when inferprobe attached. Its arrival, and so
	// its TTFT, queue, prefill and E2E, are unknown (null); OutputTokens counts the
	// tokens seen after the attach (JoinedNS, the first write seen of it). One that was
	// still queued (joined at its response head) has its first token, decode and TPOT.
	Partial  bool   `json:"partial"`
	JoinedNS uint64 `json:"joined_ns,omitempty"`

	ArrivalNS    *uint64 `json:"arrival_ns"`
	FirstTokenNS *uint64 `json:"first_token_ns"`
	EndNS        uint64  `json:"end_ns"`

	OutputTokens *int   `json:"output_tokens"`
	PromptTokens *int   `json:"prompt_tokens"`
	TokensFrom   string `json:"tokens_from,omitempty"` // "usage" or "events"

	TTFT    *float64 `json:"ttft_s"`
	TPOT    *float64 `json:"tpot_s"`
	E2E     *float64 `json:"e2e_s"`
	Queue   *float64 `json:"queue_s"`
	Prefill *float64 `json:"prefill_s"`
	Decode  *float64 `json:"decode_s"`
	// ITL is every gap between content writes, seconds (streamed requests only).
	ITL []float64 `json:"itl_s,omitempty"`

	PrefillStep *uint64 `json:"prefill_step"`
	// Estimated marks TTFT and the phases of a non-streamed request, estimated from steps.
	Estimated bool `json:"estimated"`
	// Degraded marks a request some of whose bytes were not captured.
	Degraded bool `json:"degraded,omitempty"`
}

// Step is one GPU step of a unit (joined across its tensor-parallel workers), a line of
// steps.jsonl.
type Step struct {
	ID      uint64   `json:"id"`
	Unit    string   `json:"unit"`
	PID     uint32   `json:"pid"` // the first worker's pid
	TID     uint32   `json:"tid"`
	PIDs    []uint32 `json:"pids,omitempty"` // every worker's pid when joined
	StartNS uint64   `json:"start_ns"`
	EndNS   uint64   `json:"end_ns"`
	Kind    string   `json:"kind"`

	HostGap       *float64 `json:"host_gap_s"`
	LaunchSpan    float64  `json:"launch_span_s"`
	Wait          float64  `json:"wait_s"`
	Launches      int      `json:"launches"`
	GraphLaunches int      `json:"graph_launches"`
	BatchSize     *int     `json:"batch_size"`
	Result        int32    `json:"result,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// SinceNS is when the request is known to have been open: its arrival, or when it was
// joined for a partial one.
func (r *Request) SinceNS() uint64 {
	if r.ArrivalNS != nil {
		return *r.ArrivalNS
	}
	return r.JoinedNS
}

// valueOr returns *p, or def when p is nil.
func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func seconds(ns uint64) float64 { return float64(ns) / 1e9 }
