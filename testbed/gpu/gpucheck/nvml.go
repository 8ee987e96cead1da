package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// smiQuery is the nvidia-smi query the NVML figures are compared with, in this order.
const smiQuery = "utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem"

// figure is one GPU figure: its nvidia-smi field (in smiQuery's order), the agent's metric,
// the factor that turns the metric into nvidia-smi's unit, and the tolerance: a match is
// |smi - inferprobe| <= max(abs, rel*|smi|).
type figure struct {
	smi, metric, unit string
	scale, abs, rel   float64
}

var figures = []figure{
	// Utilization is averaged over NVML's own sample period; two reads a few hundred ms
	// apart under a bursty load differ by that much.
	{"utilization.gpu", "inferprobe_gpu_utilization_ratio", "%", 100, 15, 0},
	{"memory.used", "inferprobe_gpu_memory_used_bytes", "MiB", 1.0 / (1 << 20), 64, 0.01},
	{"memory.total", "inferprobe_gpu_memory_total_bytes", "MiB", 1.0 / (1 << 20), 1, 0},
	{"temperature.gpu", "inferprobe_gpu_temperature_celsius", "C", 1, 2, 0},
	{"power.draw", "inferprobe_gpu_power_watts", "W", 1, 15, 0.10},
	{"power.limit", "inferprobe_gpu_power_limit_watts", "W", 1, 1, 0},
	{"clocks.sm", "inferprobe_gpu_sm_clock_hertz", "MHz", 1e-6, 30, 0.05},
	{"clocks.mem", "inferprobe_gpu_memory_clock_hertz", "MHz", 1e-6, 10, 0.01},
}

// parseSMI reads one GPU's line of `nvidia-smi --query-gpu=smiQuery
// --format=csv,noheader,nounits`; "[N/A]" and "[Not Supported]" read as NaN.
func parseSMI(out string, gpu int) ([]float64, error) {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if gpu >= len(lines) {
		return nil, fmt.Errorf("nvidia-smi listed %d GPUs, want index %d: %q", len(lines), gpu, out)
	}
	f := strings.Split(lines[gpu], ",")
	if len(f) != len(figures) {
		return nil, fmt.Errorf("nvidia-smi line %q: %d fields, want %d", lines[gpu], len(f), len(figures))
	}
	v := make([]float64, len(f))
	for i, s := range f {
		s = strings.TrimSpace(s)
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			if strings.HasPrefix(s, "[") {
				v[i] = math.NaN()
				continue
			}
			return nil, fmt.Errorf("nvidia-smi %s: %q is not a number", figures[i].smi, s)
		}
		v[i] = x
	}
	return v, nil
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// metricValues reads the Prometheus text exposition and returns the value of each
// wanted metric; a sample that carries a label named in want must have its value there
// (a sample without that label, like the last-sample timestamp, is kept).
func metricValues(r io.Reader, names map[string]bool, want map[string]string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			return out, fmt.Errorf("metrics line %q: not a sample", line)
		}
		if !names[m[1]] {
			continue
		}
		labels := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[3], -1) {
			labels[p[1]] = p[2]
		}
		ok := true
		for k, v := range want {
			if lv, has := labels[k]; has && lv != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return out, fmt.Errorf("metrics line %q: value: %w", line, err)
		}
		out[m[1]] = v
	}
	return out, sc.Err()
}

// nvmlSample is one pair of reads taken together.
type nvmlSample struct {
	smi   []float64
	agent []float64 // in nvidia-smi's units, NaN where the agent has no value
	age   float64   // seconds between the agent's NVML sample and the scrape
}

type sampler struct {
	url   string
	smi   []string // argv of the nvidia-smi query
	gpu   int
	hc    *http.Client
	names map[string]bool
}

func (s *sampler) one(ctx context.Context) (nvmlSample, error) {
	var wg sync.WaitGroup
	var smiOut []byte
	var smiErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		smiOut, smiErr = exec.CommandContext(ctx, s.smi[0], s.smi[1:]...).Output()
	}()
	scraped := time.Now()
	vals, err := s.scrape(ctx)
	wg.Wait()
	if err != nil {
		return nvmlSample{}, err
	}
	if smiErr != nil {
		return nvmlSample{}, fmt.Errorf("nvidia-smi: %w", smiErr)
	}
	sv, err := parseSMI(string(smiOut), s.gpu)
	if err != nil {
		return nvmlSample{}, err
	}
	out := nvmlSample{smi: sv, agent: make([]float64, len(figures)), age: math.NaN()}
	for i, f := range figures {
		out.agent[i] = math.NaN()
		if v, ok := vals[f.metric]; ok {
			out.agent[i] = v * f.scale
		}
	}
	if ts, ok := vals["inferprobe_gpu_last_sample_timestamp_seconds"]; ok {
		out.age = float64(scraped.UnixNano())/1e9 - ts
	}
	return out, nil
}

func (s *sampler) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %s", s.url, resp.Status)
	}
	return metricValues(resp.Body, s.names, map[string]string{"gpu": strconv.Itoa(s.gpu)})
}

// nvmlRow is one figure's comparison over the samples.
type nvmlRow struct {
	fig                figure
	smiMed, agentMed   float64
	maxDiff, tolerance float64
	within, n          int
}

func compareNVML(samples []nvmlSample) []nvmlRow {
	rows := make([]nvmlRow, len(figures))
	for i, f := range figures {
		r := nvmlRow{fig: f, maxDiff: math.NaN()}
		var sv, av []float64
		for _, s := range samples {
			if math.IsNaN(s.smi[i]) || math.IsNaN(s.agent[i]) {
				continue
			}
			sv, av = append(sv, s.smi[i]), append(av, s.agent[i])
			d := math.Abs(s.smi[i] - s.agent[i])
			tol := math.Max(f.abs, f.rel*math.Abs(s.smi[i]))
			r.tolerance = math.Max(r.tolerance, tol)
			if math.IsNaN(r.maxDiff) || d > r.maxDiff {
				r.maxDiff = d
			}
			r.n++
			if d <= tol {
				r.within++
			}
		}
		r.smiMed, r.agentMed = quantile(sv, .5), quantile(av, .5)
		rows[i] = r
	}
	return rows
}

func writeNVML(w io.Writer, samples []nvmlSample, rows []nvmlRow) {
	for k, s := range samples {
		fmt.Fprintf(w, "sample %d (agent's NVML read %s s old):", k+1, num(s.age))
		for i, f := range figures {
			fmt.Fprintf(w, " %s %s/%s", f.smi, num(s.smi[i]), num(s.agent[i]))
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tunit\tnvidia-smi P50\tinferprobe P50\tmax |diff|\ttolerance\tsamples within\tverdict\t")
	for _, r := range rows {
		verdict := "match"
		switch {
		case r.n == 0:
			verdict = "no value"
		case r.within < r.n:
			verdict = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t\n", r.fig.smi, r.fig.unit, num(r.smiMed), num(r.agentMed),
			num(r.maxDiff), num(r.tolerance), r.within, r.n, verdict)
	}
	tw.Flush()
}

func runNVML(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("nvml", pflag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:9479/metrics", "the agent's metrics URL")
	n := fs.Int("samples", 5, "pairs of reads")
	every := fs.Duration("interval", 2*time.Second, "time between pairs")
	gpu := fs.Int("gpu", 0, "GPU index (nvidia-smi's line, the metrics' gpu label)")
	smi := fs.String("smi", "nvidia-smi", "the nvidia-smi program")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *n < 1 {
		return errUsage
	}
	names := map[string]bool{"inferprobe_gpu_last_sample_timestamp_seconds": true}
	for _, f := range figures {
		names[f.metric] = true
	}
	s := &sampler{url: *url, gpu: *gpu, hc: &http.Client{Timeout: 10 * time.Second}, names: names,
		smi: []string{*smi, "--query-gpu=" + smiQuery, "--format=csv,noheader,nounits"}}
	var samples []nvmlSample
	for i := 0; i < *n; i++ {
		if i > 0 {
			time.Sleep(*every)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		smp, err := s.one(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("sample %d: %w", i+1, err)
		}
		samples = append(samples, smp)
	}
	writeNVML(stdout, samples, compareNVML(samples))
	return nil
}
