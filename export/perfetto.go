package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/inferprobe/inferprobe/correlate"
)

// Trace is what trace.json shows.
type Trace struct {
	Requests []correlate.Request
	Steps    []correlate.Step
	GPU      []GPUSample
}

// WriteTrace writes t in the Chrome trace-event JSON format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open:
//   - per unit, a process "requests <unit>" whose threads are lanes of requests packed so
//     that none overlap: a slice per request (named by its id) holding its queue, prefill
//     and decode slices; and counter tracks of the requests waiting and running, and of
//     each step's batch size;
//   - per engine thread (its real pid and tid), its GPU steps, named by kind, each holding
//     its closing wait;
//   - per GPU, counter tracks of the NVML figures sampled.
//
// Timestamps are microseconds (with nanosecond decimals) from the earliest instant in t.
// It is a pure function of t.
func WriteTrace(w io.Writer, t Trace) error {
	b := &traceBuilder{base: t.base()}
	b.requests(t.Requests, t.Steps)
	b.steps(t.Steps)
	b.gpus(t.GPU)
	bw := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(bw, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":\"inferprobe\",\"monotonic_base_ns\":%d},\"traceEvents\":[\n", b.base)
	enc := json.NewEncoder(bw)
	for i := range b.events {
		if i > 0 {
			bw.WriteString(",")
		}
		if err := enc.Encode(&b.events[i]); err != nil {
			return fmt.Errorf("encode trace event: %w", err)
		}
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	return nil
}

// base is the earliest instant of the trace (CLOCK_MONOTONIC ns).
func (t Trace) base() uint64 {
	base := ^uint64(0)
	for _, r := range t.Requests {
		base = min(base, r.SinceNS())
	}
	for _, s := range t.Steps {
		base = min(base, s.StartNS)
	}
	for _, g := range t.GPU {
		base = min(base, g.TS)
	}
	if base == ^uint64(0) {
		return 0
	}
	return base
}

// traceEvent is one Chrome trace event. TS and Dur are microseconds as exact decimals.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	TS   json.Number    `json:"ts"`
	Dur  json.Number    `json:"dur,omitempty"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// Synthetic pids of the tracks that are no process: above any real pid (pid_max <= 2^22).
const (
	requestsPID = 1 << 23
	gpuPID      = requestsPID + 1<<16
	laneTID     = 1 << 22 // lanes past the first of an engine thread: tid + lane*laneTID
)

type traceBuilder struct {
	base   uint64
	events []traceEvent
}

// us renders ns (CLOCK_MONOTONIC) as microseconds from base, exactly.
func (b *traceBuilder) us(ns uint64) json.Number {
	if ns < b.base {
		ns = b.base
	}
	return dur(ns - b.base)
}

func dur(ns uint64) json.Number {
	return json.Number(strconv.FormatUint(ns/1000, 10) + "." + fmt.Sprintf("%03d", ns%1000))
}

func (b *traceBuilder) slice(name, cat string, pid, tid int, start, end uint64, args map[string]any) {
	b.events = append(b.events, traceEvent{Name: name, Cat: cat, Ph: "X", TS: b.us(start), Dur: dur(end - start), PID: pid, TID: tid, Args: args})
}

func (b *traceBuilder) counter(name string, pid int, ts uint64, args map[string]any) {
	b.events = append(b.events, traceEvent{Name: name, Ph: "C", TS: b.us(ts), PID: pid, Args: args})
}

func (b *traceBuilder) meta(what string, pid, tid int, name string) {
	b.events = append(b.events, traceEvent{Name: what, Ph: "M", TS: "0", PID: pid, TID: tid, Args: map[string]any{"name": name}})
}

// lanes packs intervals into the fewest lanes where none overlap, in start order.
type lanes struct{ ends []uint64 }

func (l *lanes) place(start, end uint64) int {
	for i, e := range l.ends {
		if e <= start {
			l.ends[i] = end
			return i
		}
	}
	l.ends = append(l.ends, end)
	return len(l.ends) - 1
}

func ms3(v *float64) any {
	if v == nil {
		return nil
	}
	return float64(int64(*v*1e6+0.5)) / 1e3
}

func unitsOf[T any](items []T, unit func(*T) string) []string {
	seen := map[string]bool{}
	var out []string
	for i := range items {
		if u := unit(&items[i]); !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}
