package export

import (
	"math"
	"sort"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/gpu"
)

// TopWindow is a correlate.Sink that keeps what finished in a sliding window of stream
// time, per unit, and turns it into the rows of `inferprobe top`. It is used on the
// correlator's goroutine only.
type TopWindow struct {
	window uint64
	start  uint64 // stream time of the first View
	units  map[string]*windowUnit
	// live are, per unit, the snapshots' streamed-token and ended-request counts at each
	// View within the window (and the last one before it): tokens/s as they are written
	// and requests/s as they end, not as records settle, so the rates are right from the
	// first seconds after an attach.
	live map[string][]liveSample
}

type liveSample struct{ ts, tokens, ended uint64 }

type windowUnit struct {
	reqs  []windowReq
	steps []windowStep
	errs  []windowErr
}

type windowReq struct {
	end        uint64
	class      string
	ttft, tpot float64 // NaN: none
	tokens     int
}

type windowStep struct {
	end, dur, hostGap uint64
	batch             int // -1: unknown
}

type windowErr struct {
	ts    uint64
	class string
}

// NewTopWindow returns a window of the given length (stream time).
func NewTopWindow(window time.Duration) *TopWindow {
	return &TopWindow{window: uint64(window), units: map[string]*windowUnit{}, live: map[string][]liveSample{}}
}

func (w *TopWindow) unit(name string) *windowUnit {
	u := w.units[name]
	if u == nil {
		u = &windowUnit{}
		w.units[name] = u
	}
	return u
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

// Request implements correlate.Sink. TTFT and TPOT count for streamed requests only.
func (w *TopWindow) Request(r *correlate.Request) {
	q := windowReq{end: r.EndNS, class: r.Class, ttft: math.NaN(), tpot: math.NaN()}
	if r.Stream && !r.Estimated && !r.Partial {
		q.ttft, q.tpot = orNaN(r.TTFT), orNaN(r.TPOT)
	}
	if r.OutputTokens != nil {
		q.tokens = *r.OutputTokens
	}
	u := w.unit(r.Unit)
	u.reqs = append(u.reqs, q)
}

// Step implements correlate.Sink.
func (w *TopWindow) Step(s *correlate.Step) {
	st := windowStep{end: s.EndNS, batch: -1}
	if s.EndNS > s.StartNS {
		st.dur = s.EndNS - s.StartNS
	}
	if s.HostGap != nil {
		st.hostGap = uint64(*s.HostGap * 1e9)
	}
	if s.BatchSize != nil {
		st.batch = *s.BatchSize
	}
	u := w.unit(s.Unit)
	u.steps = append(u.steps, st)
}

// CUDAError implements correlate.Sink.
func (w *TopWindow) CUDAError(unit string, e gpustep.Error) {
	u := w.unit(unit)
	u.errs = append(u.errs, windowErr{ts: e.TS, class: "cuda_" + string(e.Class)})
}

// Stall implements correlate.Sink; stalls show through the snapshot's gauges.
func (w *TopWindow) Stall(string, gpustep.Stall) {}

// prune drops what ended at or before from.
func prune[T any](s []T, keep func(*T) bool) []T {
	n := 0
	for i := range s {
		if keep(&s[i]) {
			s[n] = s[i]
			n++
		}
	}
	clear(s[n:])
	return s[:n]
}

// Units returns the rows at stream time now: the window's figures of every unit, with
// the live gauges of snaps (the correlator's Snapshot at now). Records older than the
// window are dropped.
func (w *TopWindow) Units(now uint64, snaps []correlate.UnitSnapshot) []TopUnit {
	if w.start == 0 || now < w.start {
		w.start = now
	}
	from := uint64(0)
	if now > w.window {
		from = now - w.window
	}
	span := float64(min(w.window, now-w.start)) / 1e9
	byName := map[string]*TopUnit{}
	row := func(name string) *TopUnit {
		r := byName[name]
		if r == nil {
			nan := math.NaN()
			r = &TopUnit{Name: name, RPS: nan, TokensPerSec: nan, TTFT50: nan, TTFT99: nan, TPOT50: nan, TPOT99: nan, Batch: nan, HostIdle: nan}
			byName[name] = r
		}
		return r
	}
	for name, u := range w.units {
		u.reqs = prune(u.reqs, func(q *windowReq) bool { return q.end > from })
		u.steps = prune(u.steps, func(s *windowStep) bool { return s.end > from })
		u.errs = prune(u.errs, func(e *windowErr) bool { return e.ts > from })
		if len(u.reqs) == 0 && len(u.steps) == 0 && len(u.errs) == 0 {
			delete(w.units, name)
			continue
		}
		r := row(name)
		r.fill(u, span)
	}
	for _, s := range snaps {
		r := row(s.Unit)
		r.Waiting, r.Running, r.Stalled = s.Waiting, s.Running, s.Stalled
		r.LongestWait = time.Duration(s.LongestWaitNS)
		if s.LiveBatchSteps > 0 && s.LiveBatch > 0 {
			// The last second's, as tokens are written: a step's final batch size comes
			// only once every request in it has ended, seconds later. (Non-streamed
			// requests show in the final sizes only: with none streamed, those stay.)
			r.Batch = s.LiveBatch
		}
		if s.OutputTokens == 0 && s.Ended == 0 && len(w.live[s.Unit]) == 0 {
			continue
		}
		ts := w.live[s.Unit]
		if n := len(ts); n > 0 && (s.OutputTokens < ts[n-1].tokens || s.Ended < ts[n-1].ended) {
			ts = ts[:0] // the counts started again (a new correlator): so do the rates
		}
		ts = append(ts, liveSample{now, s.OutputTokens, s.Ended})
		for len(ts) > 2 && ts[1].ts <= from {
			ts = ts[1:]
		}
		w.live[s.Unit] = ts
		if d := ts[len(ts)-1].ts - ts[0].ts; d > 0 {
			a, b := ts[0], ts[len(ts)-1]
			r.TokensPerSec = float64(b.tokens-a.tokens) / (float64(d) / 1e9)
			r.RPS = float64(b.ended-a.ended) / (float64(d) / 1e9)
		}
	}
	for name := range w.live {
		if byName[name] == nil {
			delete(w.live, name)
		}
	}
	out := make([]TopUnit, 0, len(byName))
	for name, r := range byName {
		if span > 0 && r.Requests == 0 && len(w.live[name]) < 2 {
			r.RPS, r.TokensPerSec = 0, 0
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// fill sets the window's figures of a row.
func (r *TopUnit) fill(u *windowUnit, span float64) {
	var ttft, tpot []float64
	tokens := 0
	for _, q := range u.reqs {
		if !math.IsNaN(q.ttft) {
			ttft = append(ttft, q.ttft)
		}
		if !math.IsNaN(q.tpot) {
			tpot = append(tpot, q.tpot)
		}
		tokens += q.tokens
		if q.class != correlate.ClassOK {
			r.addError(q.class)
		}
	}
	for _, e := range u.errs {
		r.addError(e.class)
	}
	r.Requests, r.Steps = len(u.reqs), len(u.steps)
	if span > 0 {
		r.RPS = float64(len(u.reqs)) / span
		r.TokensPerSec = float64(tokens) / span
	}
	r.TTFT50, r.TTFT99 = Quantile(ttft, .5), Quantile(ttft, .99)
	r.TPOT50, r.TPOT99 = Quantile(tpot, .5), Quantile(tpot, .99)
	var batch, batches, gap, busy float64
	for _, s := range u.steps {
		if s.batch >= 0 {
			batch += float64(s.batch)
			batches++
		}
		gap += float64(s.hostGap)
		busy += float64(s.dur)
	}
	if batches > 0 {
		r.Batch = batch / batches
	}
	if gap+busy > 0 {
		r.HostIdle = gap / (gap + busy)
	}
}

func (r *TopUnit) addError(class string) {
	if r.Errors == nil {
		r.Errors = map[string]int{}
	}
	r.Errors[class]++
}

// TopGPUs returns the GPU rows of an NVML snapshot.
func TopGPUs(s gpu.Snapshot) []TopGPU {
	out := make([]TopGPU, 0, len(s.Devices))
	for _, d := range s.Devices {
		g := TopGPU{Index: d.Index, Name: d.Name, Utilization: d.Utilization, MemUsed: d.MemoryUsedBytes,
			MemTotal: d.MemoryTotalBytes, Temperature: d.TemperatureCelsius, Power: d.PowerWatts, PowerLimit: d.PowerLimitWatts}
		if d.Throttle != nil {
			for _, n := range d.Throttle.Names() {
				if n != "gpu_idle" {
					g.Throttle = append(g.Throttle, n)
				}
			}
		}
		out = append(out, g)
	}
	return out
}
