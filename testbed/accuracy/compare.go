package accuracy

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Figures compared per request, in table order.
var Figures = []string{"ttft", "e2e", "tpot", "queue", "prefill", "decode"}

// Bar is the accuracy bar: a figure is within tolerance when |error| <= max(Abs, Rel *
// |truth|), and at least Share of the requests that have it must be.
type Bar struct {
	Abs, Rel, Share float64
}

// Bars are the bars per figure.
var Bars = map[string]Bar{
	"ttft": {Abs: 0.001, Share: 0.99}, "e2e": {Abs: 0.001, Share: 0.99},
	"tpot": {Abs: 0.002, Rel: 0.05, Share: 0.95}, "queue": {Abs: 0.002, Rel: 0.05, Share: 0.95},
	"prefill": {Abs: 0.002, Rel: 0.05, Share: 0.95}, "decode": {Abs: 0.002, Rel: 0.05, Share: 0.95},
}

// BatchShare is the share of steps whose batch size must equal the truth.
const BatchShare = 0.95

// Report is the outcome of one comparison.
type Report struct {
	TruthRequests, Found, Missing, Duplicates, Extra int
	StatusWrong, ClassWrong                          []string // "id: got X want Y"
	MissingIDs                                       []string // the first missing, with their class
	Errs                                             map[string][]float64
	Within                                           map[string]int
	TruthSteps, StepsMatched, BatchEqual             int
	BatchWrong                                       []string
	// Live: the recording attached at AttachNS to a server under load (CompareLive).
	// InFlight is how many requests the truth had in flight then, Partial how many
	// partial records there are, PartialWrong the partial records of requests that
	// arrived after the attach.
	Live              bool
	AttachNS          uint64
	InFlight, Partial int
	PartialWrong      []string
	// Client is the TTFT against the client's clock, when its records were given.
	Client *ClientTTFT
}

// LiveJoin is how long after an attach every new request must be recorded whole, and
// LiveSteps how long after it every step's batch size must be right.
const (
	LiveJoin  = 1_000_000_000
	LiveSteps = 2_000_000_000
)

// PartialSlack is how far the count of partial records may be from the truth's count of
// requests in flight at the attach (the attach is not one instant).
const PartialSlack = 2

// CompareLive matches the records of a recording attached at attachNS to a server already
// under load: every request that arrived LiveJoin after the attach must be found whole,
// every step that started LiveSteps after it must have the truth's batch size, and the
// requests in flight at the attach must be the partial records, within PartialSlack.
// Records of requests that arrived before LiveJoin are neither required nor extra.
func CompareLive(reqs []correlate.Request, steps []correlate.Step, treqs []truth.Request, tsteps []truth.Step, attachNS uint64) *Report {
	var want, before []truth.Request
	inFlight := 0
	for _, t := range treqs {
		switch {
		case t.ArrivalNS >= attachNS+LiveJoin:
			want = append(want, t)
		default:
			before = append(before, t)
			if t.ArrivalNS < attachNS && t.EndNS > attachNS {
				inFlight++
			}
		}
	}
	var ts []truth.Step
	for _, s := range tsteps {
		if s.StartNS >= attachNS+LiveSteps {
			ts = append(ts, s)
		}
	}
	earlier := map[string]bool{}
	for _, t := range before {
		earlier[t.ID] = true
	}
	var whole []correlate.Request
	partial := 0
	var wrong []string
	for _, g := range reqs {
		switch {
		case g.Partial:
			partial++
			if !earlier[g.ID] && !strings.HasPrefix(g.ID, GeneratedPrefix) {
				wrong = append(wrong, g.ID)
			}
		case !earlier[g.ID] && g.ArrivalNS != nil && *g.ArrivalNS+AnonWindow >= attachNS+LiveJoin:
			whole = append(whole, g)
		}
	}
	r := Compare(whole, steps, want, ts)
	r.Live, r.AttachNS, r.InFlight, r.Partial, r.PartialWrong = true, attachNS, inFlight, partial, wrong
	return r
}

// Compare matches records to truth.
func Compare(reqs []correlate.Request, steps []correlate.Step, treqs []truth.Request, tsteps []truth.Step) *Report {
	r := &Report{Errs: map[string][]float64{}, Within: map[string]int{}}
	byID := map[string][]*correlate.Request{}
	for i := range reqs {
		byID[reqs[i].ID] = append(byID[reqs[i].ID], &reqs[i])
	}
	tstep := map[uint64]*truth.Step{}
	for i := range tsteps {
		tstep[tsteps[i].Index] = &tsteps[i]
	}
	seen := map[string]bool{}
	anon := matchAnonymous(reqs, treqs, byID)
	for i := range treqs {
		t := &treqs[i]
		r.TruthRequests++
		got := byID[t.ID]
		if len(got) == 0 && anon[i] != nil {
			got = []*correlate.Request{anon[i]}
			t = withID(t, anon[i].ID)
		}
		seen[t.ID] = true
		switch {
		case len(got) == 0:
			r.Missing++
			if len(r.MissingIDs) < 5 {
				r.MissingIDs = append(r.MissingIDs, fmt.Sprintf("%s (%s, status %d, arrival %d)", t.ID, t.Class, t.Status, t.ArrivalNS))
			}
			continue
		case len(got) > 1:
			r.Duplicates++
		}
		r.Found++
		g := got[0]
		if g.Status == nil || *g.Status != t.Status {
			r.StatusWrong = append(r.StatusWrong, fmt.Sprintf("%s: got %v want %d", t.ID, deref(g.Status), t.Status))
		}
		if g.Class != t.Class {
			r.ClassWrong = append(r.ClassWrong, fmt.Sprintf("%s: got %s want %s", t.ID, g.Class, t.Class))
		}
		for name, want := range truthFigures(t, tstep) {
			have := got1(g, name)
			if have == nil {
				r.Errs[name] = append(r.Errs[name], math.Inf(1))
				continue
			}
			e := math.Abs(*have - want)
			r.Errs[name] = append(r.Errs[name], e)
			b := Bars[name]
			if e <= math.Max(b.Abs, b.Rel*math.Abs(want)) {
				r.Within[name]++
			}
		}
	}
	for id, g := range byID {
		if !seen[id] {
			r.Extra += len(g)
		}
	}
	r.compareSteps(steps, tsteps)
	return r
}

// GeneratedPrefix starts the ids inferprobe gives requests whose response had none.
const GeneratedPrefix = "inferprobe-"

// matchAnonymous pairs the truth requests whose id no record has (a 429 or a 400
// carries no response id) with the records whose id inferprobe generated: each truth
// request, in arrival order, takes the unused record nearest to it in arrival and end
// (the sum of both distances, and a status that differs counts as far), among those
// that arrived at most AnonWindow before it and not after it. The truth stamps its
// arrival right after the read(2) returned and inferprobe at the read's return in the
// kernel, so a record never arrives after its truth, and arrives before it by however
// long the server's thread took to get back to user space (milliseconds on a loaded
// machine). It returns the record per truth index.
func matchAnonymous(reqs []correlate.Request, treqs []truth.Request, byID map[string][]*correlate.Request) map[int]*correlate.Request {
	var anon []*correlate.Request
	for i := range reqs {
		if strings.HasPrefix(reqs[i].ID, GeneratedPrefix) && !reqs[i].Partial {
			anon = append(anon, &reqs[i])
		}
	}
	var want []int
	for i := range treqs {
		if len(byID[treqs[i].ID]) == 0 {
			want = append(want, i)
		}
	}
	sort.Slice(anon, func(a, b int) bool { return *anon[a].ArrivalNS < *anon[b].ArrivalNS })
	sort.Slice(want, func(a, b int) bool { return treqs[want[a]].ArrivalNS < treqs[want[b]].ArrivalNS })
	out := map[int]*correlate.Request{}
	used := make([]bool, len(anon))
	for _, i := range want {
		t := &treqs[i]
		lo := sort.Search(len(anon), func(j int) bool { return *anon[j].ArrivalNS+AnonWindow >= t.ArrivalNS })
		best, bestCost := -1, uint64(0)
		for j := lo; j < len(anon) && *anon[j].ArrivalNS <= t.ArrivalNS+anonSlack; j++ {
			if used[j] {
				continue
			}
			cost := absDiff(*anon[j].ArrivalNS, t.ArrivalNS) + absDiff(anon[j].EndNS, t.EndNS)
			if anon[j].Status == nil || *anon[j].Status != t.Status {
				cost += 2 * AnonWindow
			}
			if best < 0 || cost < bestCost {
				best, bestCost = j, cost
			}
		}
		if best >= 0 {
			used[best] = true
			out[i] = anon[best]
		}
	}
	return out
}

// AnonWindow is how long before its truth's arrival a record without a response id may
// have arrived and still match it (matchAnonymous).
const AnonWindow = 10_000_000

// anonSlack allows a record to arrive this much after its truth (clock reads differ by
// that much at most: both are CLOCK_MONOTONIC).
const anonSlack = 100_000

func withID(t *truth.Request, id string) *truth.Request {
	c := *t
	c.ID = id
	return &c
}

// truthFigures gives the truth of each figure the request has. A non-streamed request's
// first token is the end of the step that produced it (what inferprobe estimates).
func truthFigures(t *truth.Request, steps map[uint64]*truth.Step) map[string]float64 {
	out := map[string]float64{"e2e": sec(t.EndNS - t.ArrivalNS)}
	first := t.FirstTokenNS
	tokens := t.TokenNS
	if !t.Stream && t.PrefillStep != nil {
		first = 0
		if s := steps[*t.PrefillStep]; s != nil {
			first = s.EndNS
		}
		tokens = nil
		for idx := *t.PrefillStep; ; idx++ {
			s := steps[idx]
			if s == nil || len(tokens) == t.CompletionTokens {
				break
			}
			for _, id := range s.Requests {
				if id == t.ID {
					tokens = append(tokens, s.EndNS)
				}
			}
		}
	}
	if first == 0 || t.Status != 200 {
		return out
	}
	out["ttft"] = sec(first - t.ArrivalNS)
	out["decode"] = sec(t.EndNS - first)
	if t.PrefillStartNS != 0 {
		out["queue"] = sec(t.PrefillStartNS - t.ArrivalNS)
		out["prefill"] = sec(first - t.PrefillStartNS)
	}
	if n := t.CompletionTokens; n > 1 && len(tokens) >= 2 {
		out["tpot"] = sec(tokens[len(tokens)-1]-first) / float64(n-1)
	}
	return out
}

func got1(g *correlate.Request, name string) *float64 {
	switch name {
	case "ttft":
		return g.TTFT
	case "e2e":
		return g.E2E
	case "tpot":
		return g.TPOT
	case "queue":
		return g.Queue
	case "prefill":
		return g.Prefill
	case "decode":
		return g.Decode
	}
	return nil
}

// compareSteps matches each truth step to the record that starts nearest to it (within
// 1 ms) and compares batch sizes.
func (r *Report) compareSteps(steps []correlate.Step, tsteps []truth.Step) {
	sorted := make([]correlate.Step, len(steps))
	copy(sorted, steps)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].StartNS < sorted[j].StartNS })
	for _, t := range tsteps {
		if t.StartNS == 0 || t.Error != 0 {
			continue
		}
		r.TruthSteps++
		i := sort.Search(len(sorted), func(i int) bool { return sorted[i].StartNS >= t.StartNS })
		best := -1
		for _, j := range []int{i - 1, i} {
			if j >= 0 && j < len(sorted) && absDiff(sorted[j].StartNS, t.StartNS) <= 1e6 &&
				(best < 0 || absDiff(sorted[j].StartNS, t.StartNS) < absDiff(sorted[best].StartNS, t.StartNS)) {
				best = j
			}
		}
		if best < 0 {
			continue
		}
		r.StepsMatched++
		if b := sorted[best].BatchSize; b != nil && *b == t.BatchSize {
			r.BatchEqual++
		} else if len(r.BatchWrong) < 20 {
			r.BatchWrong = append(r.BatchWrong, fmt.Sprintf("step %d: got %v want %d", t.Index, deref(b), t.BatchSize))
		}
	}
}

// Failures lists where the report misses the bar (empty: it passes).
func (r *Report) Failures() []string {
	var out []string
	if r.Missing > 0 || r.Duplicates > 0 || r.Extra > 0 {
		out = append(out, fmt.Sprintf("requests: %d in truth, %d missing, %d duplicated, %d extra; missing: %s",
			r.TruthRequests, r.Missing, r.Duplicates, r.Extra, strings.Join(r.MissingIDs, ", ")))
	}
	if len(r.StatusWrong) > 0 {
		out = append(out, fmt.Sprintf("%d statuses wrong, e.g. %s", len(r.StatusWrong), r.StatusWrong[0]))
	}
	if len(r.ClassWrong) > 0 {
		out = append(out, fmt.Sprintf("%d classes wrong, e.g. %s", len(r.ClassWrong), r.ClassWrong[0]))
	}
	for _, f := range Figures {
		n := len(r.Errs[f])
		if n > 0 && float64(r.Within[f]) < Bars[f].Share*float64(n) {
			out = append(out, fmt.Sprintf("%s: %d of %d within tolerance, want %.0f%%", f, r.Within[f], n, Bars[f].Share*100))
		}
	}
	if r.Live && (absDiff(uint64(r.Partial), uint64(r.InFlight)) > PartialSlack || len(r.PartialWrong) > 0) {
		out = append(out, fmt.Sprintf("partial records: %d, %d requests in flight at the attach (within %d); %d partial that arrived after it: %v",
			r.Partial, r.InFlight, PartialSlack, len(r.PartialWrong), r.PartialWrong))
	}
	if r.TruthSteps > 0 && float64(r.BatchEqual) < BatchShare*float64(r.TruthSteps) {
		ex := ""
		if len(r.BatchWrong) > 0 {
			ex = ", e.g. " + r.BatchWrong[0]
		}
		out = append(out, fmt.Sprintf("batch size: %d of %d steps equal (%d matched)%s", r.BatchEqual, r.TruthSteps, r.StepsMatched, ex))
	}
	return out
}

// Table prints absolute errors per figure (P50/P95/P99, ms) and the shares within bar.
func (r *Report) Table(w io.Writer, title string) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s: %d requests in truth, %d found, %d missing, %d duplicated, %d extra; %d status and %d class mismatches\n",
		title, r.TruthRequests, r.Found, r.Missing, r.Duplicates, r.Extra, len(r.StatusWrong), len(r.ClassWrong))
	fmt.Fprintln(tw, "figure\tn\terr P50 ms\tP95 ms\tP99 ms\twithin bar\t")
	for _, f := range Figures {
		e := r.Errs[f]
		if len(e) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.1f%%\t\n", f, len(e), q(e, .5)*1e3, q(e, .95)*1e3, q(e, .99)*1e3, 100*float64(r.Within[f])/float64(len(e)))
	}
	tw.Flush()
	if r.Live {
		fmt.Fprintf(w, "attached mid-load: %d partial records, %d requests in flight at the attach; requests from %.0f s after it, steps from %.0f s\n",
			r.Partial, r.InFlight, LiveJoin/1e9, LiveSteps/1e9)
	}
	if c := r.Client; c != nil && len(c.Errs) > 0 {
		fmt.Fprintf(w, "ttft against the client's clock: n %d, |err| P50 %.3f P95 %.3f P99 %.3f ms, %.1f%% within %.0f ms\n",
			len(c.Errs), q(c.Errs, .5)*1e3, q(c.Errs, .95)*1e3, q(c.Errs, .99)*1e3, 100*float64(c.Within)/float64(len(c.Errs)), ClientTTFTBar*1e3)
	}
	if r.TruthSteps > 0 {
		fmt.Fprintf(w, "steps: %d in truth, %d matched, batch size equal for %d (%.1f%%)\n", r.TruthSteps, r.StepsMatched, r.BatchEqual, 100*float64(r.BatchEqual)/float64(r.TruthSteps))
	}
}

func q(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1))]
}

func sec(ns uint64) float64 { return float64(ns) / 1e9 }

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ClientTTFT is the gap between the records' TTFT and the client's (the load generator's
// send to its receipt of the first token), for the streamed requests both have.
type ClientTTFT struct {
	Errs   []float64 // |record - client|, seconds
	Within int       // of them, within ClientTTFTBar
}

// ClientTTFTBar is the tolerance the bar gives a record's TTFT against the client's.
const ClientTTFTBar = 0.001

// CompareClient compares the records' TTFT with the client's records (client.jsonl).
func CompareClient(reqs []correlate.Request, clients []load.Record) ClientTTFT {
	byID := map[string]*correlate.Request{}
	for i := range reqs {
		byID[reqs[i].ID] = &reqs[i]
	}
	var out ClientTTFT
	for _, c := range clients {
		r := byID[c.ID]
		if c.ID == "" || !c.Stream || c.FirstTokenNS == 0 || r == nil || r.TTFT == nil || r.Partial {
			continue
		}
		e := math.Abs(*r.TTFT - sec(c.FirstTokenNS-c.SendNS))
		out.Errs = append(out.Errs, e)
		if e <= ClientTTFTBar {
			out.Within++
		}
	}
	return out
}
