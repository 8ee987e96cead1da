package export

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

// Summary accumulates per-unit figures of a recording for the closing report of
// `inferprobe record` and `replay`.
type Summary struct {
	units map[string]*unitSummary
}

type unitSummary struct {
	requests, partial      int
	classes                map[string]int
	ttft, tpot, e2e        []float64
	queue, prefill, decode []float64
	tokens                 int
	firstNS, lastNS        uint64
	steps, decodeSteps     int
	batches                []float64
	hostGap, wait          float64
	cudaErrors             map[string]int
	stalls                 int
}

// NewSummary returns an empty summary.
func NewSummary() *Summary { return &Summary{units: map[string]*unitSummary{}} }

func (s *Summary) unit(name string) *unitSummary {
	u := s.units[name]
	if u == nil {
		u = &unitSummary{classes: map[string]int{}, cudaErrors: map[string]int{}}
		s.units[name] = u
	}
	return u
}

func add(dst *[]float64, v *float64) {
	if v != nil {
		*dst = append(*dst, *v)
	}
}

// Request adds a finished request.
func (s *Summary) Request(r *correlate.Request) {
	u := s.unit(r.Unit)
	u.requests++
	u.classes[r.Class]++
	if r.OutputTokens != nil {
		u.tokens += *r.OutputTokens
	}
	if u.firstNS == 0 || r.SinceNS() < u.firstNS {
		u.firstNS = r.SinceNS()
	}
	u.lastNS = max(u.lastNS, r.EndNS)
	if r.Partial {
		u.partial++
		return // in flight at the attach: counted, in no latency distribution
	}
	add(&u.ttft, r.TTFT)
	add(&u.tpot, r.TPOT)
	add(&u.queue, r.Queue)
	add(&u.prefill, r.Prefill)
	add(&u.decode, r.Decode)
	if r.E2E != nil {
		u.e2e = append(u.e2e, *r.E2E)
	}
}

// Step adds a finished step.
func (s *Summary) Step(st *correlate.Step) {
	u := s.unit(st.Unit)
	u.steps++
	if st.Kind == "decode" {
		u.decodeSteps++
	}
	if st.BatchSize != nil {
		u.batches = append(u.batches, float64(*st.BatchSize))
	}
	if st.HostGap != nil {
		u.hostGap += *st.HostGap
	}
	u.wait += st.Wait
}

// CUDAError adds a driver error.
func (s *Summary) CUDAError(unit string, e gpustep.Error) { s.unit(unit).cudaErrors[string(e.Class)]++ }

// Stall adds a stalled wait.
func (s *Summary) Stall(unit string, _ gpustep.Stall) { s.unit(unit).stalls++ }

// Quantile returns the q-quantile (0..1) of v by linear interpolation, NaN when empty.
func Quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return nan()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (s[i+1]-s[i])*(pos-float64(i))
}

func nan() float64 { var z float64; return z / z }

func msCell(v []float64, q float64) string {
	x := Quantile(v, q)
	if x != x {
		return "-"
	}
	return fmt.Sprintf("%.1f", x*1000)
}

// Write prints the summary as a table per unit.
func (s *Summary) Write(w io.Writer) error {
	names := make([]string, 0, len(s.units))
	for n := range s.units {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, n := range names {
		u := s.units[n]
		fmt.Fprintf(tw, "unit %s\n", n)
		secs := float64(u.lastNS-u.firstNS) / 1e9
		rate := func(x int) string {
			if secs <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", float64(x)/secs)
		}
		fmt.Fprintf(tw, "  requests\t%d\t(%s/s)\ttokens\t%d\t(%s/s)\n", u.requests, rate(u.requests), u.tokens, rate(u.tokens))
		if u.partial > 0 {
			fmt.Fprintf(tw, "  partial\t%d\t(in flight at the attach: tokens counted, no latency)\n", u.partial)
		}
		fmt.Fprintf(tw, "  classes\t%s\n", counts(u.classes))
		fmt.Fprintf(tw, "  latency ms\tP50\tP95\tP99\n")
		for _, row := range []struct {
			name string
			v    []float64
		}{{"ttft", u.ttft}, {"tpot", u.tpot}, {"e2e", u.e2e}, {"queue", u.queue}, {"prefill", u.prefill}, {"decode", u.decode}} {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", row.name, msCell(row.v, .5), msCell(row.v, .95), msCell(row.v, .99))
		}
		batch := "-"
		if len(u.batches) > 0 {
			batch = fmt.Sprintf("%.1f (P50 %.0f, max %.0f)", mean(u.batches), Quantile(u.batches, .5), slices.Max(u.batches))
		}
		fmt.Fprintf(tw, "  gpu steps\t%d\t(%d decode)\tbatch size %s\n", u.steps, u.decodeSteps, batch)
		fmt.Fprintf(tw, "  host gap s\t%.3f\tgpu wait s\t%.3f\n", u.hostGap, u.wait)
		if len(u.cudaErrors) > 0 || u.stalls > 0 {
			fmt.Fprintf(tw, "  cuda errors\t%s\tstalls\t%d\n", counts(u.cudaErrors), u.stalls)
		}
	}
	return tw.Flush()
}

func mean(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}

func counts(m map[string]int) string { return formatCounts(m, "-", "%s=%d", " ") }

// formatCounts lists m's entries by key, each formatted with item (a %s and a %d),
// joined by sep; none when m is empty.
func formatCounts(m map[string]int, none, item, sep string) string {
	if len(m) == 0 {
		return none
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf(item, k, m[k])
	}
	return strings.Join(parts, sep)
}
