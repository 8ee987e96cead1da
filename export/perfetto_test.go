package export

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"testing"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/gpu"
)

// records collects what a correlator finishes.
type records struct {
	reqs  []correlate.Request
	steps []correlate.Step
}

func (r *records) Request(q *correlate.Request)    { r.reqs = append(r.reqs, *q) }
func (r *records) Step(s *correlate.Step)          { r.steps = append(r.steps, *s) }
func (r *records) CUDAError(string, gpustep.Error) {}
func (r *records) Stall(string, gpustep.Stall)     {}

type parsedEvent struct {
	Name string         `json:"name"`
	Ph   string         `json:"ph"`
	Cat  string         `json:"cat"`
	TS   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	PID  int            `json:"pid"`
	TID  int            `json:"tid"`
	Args map[string]any `json:"args"`
}

func synthTrace(t *testing.T) (Trace, []parsedEvent) {
	t.Helper()
	var rec records
	run(t, unitStream(), &rec, 1000)
	util, temp := 0.5, 61.0
	used := uint64(3 << 30)
	tr := Trace{Requests: rec.reqs, Steps: rec.steps, GPU: []GPUSample{
		{TS: 10 * ms, Devices: []gpu.Device{{Index: 0, Name: "NVIDIA H100", Utilization: &util, TemperatureCelsius: &temp, MemoryUsedBytes: &used}}},
	}}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, tr); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DisplayTimeUnit string        `json:"displayTimeUnit"`
		TraceEvents     []parsedEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("trace.json is not JSON: %v\n%s", err, buf.Bytes())
	}
	if doc.DisplayTimeUnit != "ms" || len(doc.TraceEvents) == 0 {
		t.Fatalf("trace = %+v", doc)
	}
	return tr, doc.TraceEvents
}

// TestTraceNesting: on every track, slices either nest or follow one another.
func TestTraceNesting(t *testing.T) {
	_, evs := synthTrace(t)
	type key struct{ pid, tid int }
	tracks := map[key][]parsedEvent{}
	for _, e := range evs {
		if e.Ph == "X" {
			tracks[key{e.PID, e.TID}] = append(tracks[key{e.PID, e.TID}], e)
		}
	}
	if len(tracks) < 2 {
		t.Fatalf("tracks = %v", tracks)
	}
	for k, ss := range tracks {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].TS < ss[j].TS })
		var stack []parsedEvent
		for _, s := range ss {
			for len(stack) > 0 && s.TS >= stack[len(stack)-1].TS+stack[len(stack)-1].Dur {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 && s.TS+s.Dur > stack[len(stack)-1].TS+stack[len(stack)-1].Dur+1e-9 {
				t.Errorf("track %v: %s [%g, +%g] overlaps %s [%g, +%g]", k, s.Name, s.TS, s.Dur, stack[len(stack)-1].Name, stack[len(stack)-1].TS, stack[len(stack)-1].Dur)
			}
			stack = append(stack, s)
		}
	}
}

// TestTraceContent checks the slices and counters of the synthetic stream: times are
// microseconds from A's arrival at 2 ms, the earliest instant.
func TestTraceContent(t *testing.T) {
	_, evs := synthTrace(t)
	find := func(name string, ph string, cat ...string) []parsedEvent {
		var out []parsedEvent
		for _, e := range evs {
			if e.Name == name && e.Ph == ph && (len(cat) == 0 || e.Cat == cat[0]) {
				out = append(out, e)
			}
		}
		return out
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	a := find("cmpl-a", "X")
	if len(a) != 1 {
		t.Fatalf("request slices of cmpl-a: %v", a)
	}
	near("A ts", a[0].TS, 0)
	near("A dur", a[0].Dur, 44300)
	for _, p := range []struct {
		name     string
		ts, dur  float64
		requests int
	}{{"queue", 0, 1000, 2}, {"prefill", 1000, 10200, 2}, {"decode", 11200, 33100, 2}} {
		got := find(p.name, "X", "phase")
		if len(got) != p.requests {
			t.Fatalf("%d %s slices, want %d: %v", len(got), p.name, p.requests, got)
		}
		near(p.name+" ts", got[0].TS, p.ts)
		near(p.name+" dur", got[0].Dur, p.dur)
		if got[0].PID != a[0].PID || got[0].TID != a[0].TID {
			t.Errorf("%s is on track %d/%d, A on %d/%d", p.name, got[0].PID, got[0].TID, a[0].PID, a[0].TID)
		}
	}
	// B (estimated from steps) waited 14 - 13.501 ms.
	if q := find("queue", "X", "phase")[1]; math.Abs(q.TS-11501) > 1e-6 || math.Abs(q.Dur-499) > 1e-6 {
		t.Errorf("B's queue = %+v", q)
	}
	// B overlaps A, so it has a lane of its own; C and D come after both and take lane 1.
	b := find("cmpl-b", "X")
	if len(b) != 1 || b[0].TID == a[0].TID {
		t.Errorf("B = %v", b)
	}
	for _, id := range []string{"inferprobe-1", "inferprobe-2"} {
		if c := find(id, "X"); len(c) != 1 || c[0].TID != a[0].TID || c[0].Args["class"] == "ok" {
			t.Errorf("%s = %v", id, c)
		}
	}
	steps := append(find("prefill", "X", "step"), find("decode", "X", "step")...)
	var engine []parsedEvent
	for _, s := range steps {
		if s.PID == 11 && s.TID == 12 {
			engine = append(engine, s)
		}
	}
	if len(engine) != 4 {
		t.Fatalf("engine steps: %v", engine)
	}
	waits := find("wait", "X")
	if len(waits) != 4 {
		t.Fatalf("waits: %v", waits)
	}
	near("last wait ts", waits[3].TS, 36500-2000)
	near("last wait dur", waits[3].Dur, 9500)
	// Counters: at most 2 waiting (B arrives while A has its first token: 1 and 1), batch
	// sizes 1, 2, 2, 2 at the steps' ends (A gets a token from each step, B from the last three).
	maxWaiting := 0.0
	for _, c := range find("requests", "C") {
		maxWaiting = math.Max(maxWaiting, c.Args["waiting"].(float64))
	}
	if maxWaiting != 1 {
		t.Errorf("max waiting %g, want 1", maxWaiting)
	}
	var batches []string
	for _, c := range find("batch size", "C") {
		batches = append(batches, strconv.FormatFloat(c.Args["requests"].(float64), 'g', -1, 64))
	}
	if got := joinStrings(batches); got != "1,2,2,2" {
		t.Errorf("batch sizes %s", got)
	}
	if u := find("utilization %", "C"); len(u) != 1 || u[0].Args["value"].(float64) != 50 || u[0].TS != 8000 {
		t.Errorf("utilization counter = %v", u)
	}
	if m := find("memory used GiB", "C"); len(m) != 1 || m[0].Args["value"].(float64) != 3 {
		t.Errorf("memory counter = %v", m)
	}
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// Timestamps are exact decimals of nanoseconds.
func TestTraceMicroseconds(t *testing.T) {
	for ns, want := range map[uint64]string{0: "0.000", 999: "0.999", 1000: "1.000", 1234567: "1234.567"} {
		if got := string(dur(ns)); got != want {
			t.Errorf("dur(%d) = %s, want %s", ns, got, want)
		}
	}
}
