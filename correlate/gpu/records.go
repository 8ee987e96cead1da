package gpustep

import "github.com/inferprobe/inferprobe/tracer/event"

// Kind is the shape of a step.
type Kind string

const (
	// KindPrefill: eager kernel launches (prefill, and mixed batches, which run eagerly).
	KindPrefill Kind = "prefill"
	// KindDecode: graph launches only (Config.DecodeEagerMax eager launches allowed).
	KindDecode Kind = "decode"
)

// Step is one GPU step of one thread (see the package doc).
type Step struct {
	ID      uint64 `json:"id"`
	PID     uint32 `json:"pid"`
	TID     uint32 `json:"tid"`
	StartNS uint64 `json:"start_ns"` // the first launch
	EndNS   uint64 `json:"end_ns"`   // the closing wait's return
	// HostGapNS is from the previous wait's return on the thread to StartNS: the GPU
	// waiting on the CPU. Nil when no wait had returned on the thread before.
	HostGapNS     *uint64       `json:"host_gap_ns"`
	LaunchSpanNS  uint64        `json:"launch_span_ns"` // first to last launch
	WaitNS        uint64        `json:"wait_ns"`        // the closing wait's duration
	WaitCall      event.Call    `json:"wait_call"`
	Launches      int           `json:"launches"`       // kernel launches (eager)
	GraphLaunches int           `json:"graph_launches"` // cuGraphLaunch
	Kernels       []KernelCount `json:"kernels,omitempty"`
	Kind          Kind          `json:"kind"`
	// Result is the closing wait's error CUresult (0 when it succeeded).
	Result int32 `json:"result,omitempty"`
	// Errors counts the error records of the thread while the step was open, the closing
	// wait's included.
	Errors int `json:"errors,omitempty"`
}

// DurationNS is EndNS - StartNS.
func (s *Step) DurationNS() uint64 { return s.EndNS - s.StartNS }

// KernelCount is the number of launches of one kernel name.
type KernelCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// Error is a CUDA call that returned an error result.
type Error struct {
	PID    uint32     `json:"pid"`
	TID    uint32     `json:"tid"`
	TS     uint64     `json:"ts"` // the return
	Call   event.Call `json:"call"`
	Result int32      `json:"result"`
	Name   string     `json:"name"` // cuda.h name of Result
	Class  Class      `json:"class"`
	// StepID is the step the error belongs to (package doc, Errors); 0 for none.
	StepID uint64 `json:"step_id,omitempty"`
}

// Stall is a wait in flight for at least Config.StallAfter, or one that lasted that long.
type Stall struct {
	PID     uint32     `json:"pid"`
	TID     uint32     `json:"tid"`
	Call    event.Call `json:"call"`
	SinceNS uint64     `json:"since_ns"` // the wait's entry
	// DurationNS is how long the wait has been in flight at `now`, or its total length
	// once Ended.
	DurationNS uint64 `json:"duration_ns"`
	Ended      bool   `json:"ended"`
	EndNS      uint64 `json:"end_ns,omitempty"` // the return (Ended only)
	Result     int32  `json:"result,omitempty"` // the return's CUresult (Ended only)
}

// Sink receives what a Tracker finds, as it finds it.
type Sink interface {
	Step(Step)   // a step that closed
	Error(Error) // an error return
	Stall(Stall) // a stall that ended (the wait returned)
}

// Collector is a Sink that keeps everything in slices.
type Collector struct {
	Steps  []Step
	Errors []Error
	Stalls []Stall
}

func (c *Collector) Step(s Step)   { c.Steps = append(c.Steps, s) }
func (c *Collector) Error(e Error) { c.Errors = append(c.Errors, e) }
func (c *Collector) Stall(s Stall) { c.Stalls = append(c.Stalls, s) }
