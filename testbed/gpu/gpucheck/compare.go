package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/accuracy"
	"github.com/inferprobe/inferprobe/testbed/truth"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

func runNow(args []string, stdout io.Writer) error {
	if len(args) != 0 {
		fmt.Fprintln(stdout, "usage: gpucheck now")
		return errUsage
	}
	ns, err := procfs.MonotonicNS()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ns)
	return nil
}

// window keeps what arrived (requests) or started (steps) in [from, to]; zero bounds are open.
type window struct{ from, to uint64 }

func (w window) in(ns uint64) bool {
	return ns >= w.from && (w.to == 0 || ns <= w.to)
}

// selection is one comparison's input: the truth and the records inside the window.
type selection struct {
	reqs   []correlate.Request
	steps  []correlate.Step
	treqs  []truth.Request
	tsteps []truth.Step
}

func load(truthPath, dir string, w window) (*selection, error) {
	treqs, tsteps, err := truth.Read(truthPath)
	if err != nil {
		return nil, err
	}
	reqs, err := export.ReadRequests(filepath.Join(dir, export.RequestsFile))
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	steps, err := export.ReadSteps(filepath.Join(dir, export.StepsFile))
	if err != nil {
		return nil, fmt.Errorf("read records: %w", err)
	}
	s := &selection{}
	for _, r := range treqs {
		if w.in(r.ArrivalNS) {
			s.treqs = append(s.treqs, r)
		}
	}
	for _, t := range tsteps {
		if w.in(t.StartNS) {
			s.tsteps = append(s.tsteps, t)
		}
	}
	for _, r := range reqs {
		if w.in(r.SinceNS()) {
			s.reqs = append(s.reqs, r)
		}
	}
	for _, st := range steps {
		if w.in(st.StartNS) {
			s.steps = append(s.steps, st)
		}
	}
	return s, nil
}

func runCompare(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	from := fs.Uint64("from", 0, "keep requests that arrived and steps that started at or after this CLOCK_MONOTONIC ns")
	to := fs.Uint64("to", 0, "and at or before this one (0: no bound)")
	title := fs.String("title", "gpu testbed", "the table's title")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stdout, "usage: gpucheck compare [--from NS] [--to NS] TRUTH RECORD_DIR")
		return errUsage
	}
	sel, err := load(fs.Arg(0), fs.Arg(1), window{*from, *to})
	if err != nil {
		return err
	}
	if len(sel.treqs) == 0 {
		return fmt.Errorf("no truth requests in the window [%d, %d] of %s", *from, *to, fs.Arg(0))
	}
	rep := accuracy.Compare(sel.reqs, sel.steps, sel.treqs, sel.tsteps)
	rep.Table(stdout, *title)
	fmt.Fprintln(stdout)
	stepTable(stdout, sel.steps, sel.tsteps)
	fails := rep.Failures()
	if len(fails) == 0 {
		fmt.Fprintln(stdout, "\naccuracy bar: met")
		return nil
	}
	fmt.Fprintln(stdout, "\naccuracy bar: missed")
	for _, f := range fails {
		fmt.Fprintln(stdout, "  "+f)
	}
	return nil
}

// stepStats is how the recorded steps matched to truth steps of one kind look.
type stepStats struct {
	truth, matched, kindEqual       int
	startErr, endErr                []float64 // seconds, absolute
	launches, graphLaunches, waitMS []float64
}

// matchSteps pairs each truth step with the record that starts nearest to it, within
// 1 ms (accuracy's rule), and returns the pairs by truth index and the unmatched records.
func matchSteps(steps []correlate.Step, tsteps []truth.Step) (map[int]*correlate.Step, int) {
	sorted := append([]correlate.Step(nil), steps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].StartNS < sorted[j].StartNS })
	used := make([]bool, len(sorted))
	out := map[int]*correlate.Step{}
	for ti, t := range tsteps {
		i := sort.Search(len(sorted), func(i int) bool { return sorted[i].StartNS >= t.StartNS })
		best := -1
		for _, j := range []int{i - 1, i} {
			if j < 0 || j >= len(sorted) || used[j] || absDiff(sorted[j].StartNS, t.StartNS) > 1e6 {
				continue
			}
			if best < 0 || absDiff(sorted[j].StartNS, t.StartNS) < absDiff(sorted[best].StartNS, t.StartNS) {
				best = j
			}
		}
		if best >= 0 {
			used[best] = true
			out[ti] = &sorted[best]
		}
	}
	extra := 0
	for _, u := range used {
		if !u {
			extra++
		}
	}
	return out, extra
}

func stepTable(w io.Writer, steps []correlate.Step, tsteps []truth.Step) {
	pairs, extra := matchSteps(steps, tsteps)
	by := map[string]*stepStats{}
	var kinds []string
	for i, t := range tsteps {
		s := by[t.StepKind]
		if s == nil {
			s = &stepStats{}
			by[t.StepKind] = s
			kinds = append(kinds, t.StepKind)
		}
		s.truth++
		r := pairs[i]
		if r == nil {
			continue
		}
		s.matched++
		if r.Kind == t.StepKind {
			s.kindEqual++
		}
		s.startErr = append(s.startErr, math.Abs(float64(r.StartNS)-float64(t.StartNS))/1e9)
		s.endErr = append(s.endErr, math.Abs(float64(r.EndNS)-float64(t.EndNS))/1e9)
		s.launches = append(s.launches, float64(r.Launches))
		s.graphLaunches = append(s.graphLaunches, float64(r.GraphLaunches))
		s.waitMS = append(s.waitMS, r.Wait*1e3)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "GPU steps: %d in truth, %d recorded, %d recorded steps matched no truth step (start within 1 ms)\n",
		len(tsteps), len(steps), extra)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\ttruth\tmatched\tkind equal\tstart err P50 ms\tP95 ms\tend err P50 ms\tP95 ms\tlaunches P50\tgraph launches P50\twait P50 ms\t")
	for _, k := range kinds {
		s := by[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k, s.truth, s.matched, s.kindEqual,
			ms(quantile(s.startErr, .5)), ms(quantile(s.startErr, .95)), ms(quantile(s.endErr, .5)), ms(quantile(s.endErr, .95)),
			num(quantile(s.launches, .5)), num(quantile(s.graphLaunches, .5)), num(quantile(s.waitMS, .5)))
	}
	tw.Flush()
}

func quantile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func ms(sec float64) string { return num(sec * 1e3) }

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}
