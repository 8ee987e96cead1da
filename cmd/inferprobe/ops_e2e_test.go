package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/load"
)

// The operations kit's end-to-end test: the shipped rules (with short for: durations)
// and every dashboard and rule query against a Prometheus server scraping the agent on
// three testbed engines: one overloaded (queue above 10 and 429s), one that hits a
// sticky fault, one that runs out of memory and stalls on a wait.

// nvmlMetrics are the GPU health series, sampled from NVML: without a GPU (the testbed's
// simulated libcuda) the agent has none, so a query that reads one is declared
// expected-empty. The other inferprobe_gpu_* series (steps, waits, stalls) come from the
// probes and must have data.
var nvmlMetrics = []string{"inferprobe_gpu_utilization_ratio", "inferprobe_gpu_memory_utilization_ratio",
	"inferprobe_gpu_memory_used_bytes", "inferprobe_gpu_memory_total_bytes", "inferprobe_gpu_memory_free_bytes",
	"inferprobe_gpu_temperature_celsius", "inferprobe_gpu_power_watts", "inferprobe_gpu_power_limit_watts",
	"inferprobe_gpu_sm_clock_hertz", "inferprobe_gpu_memory_clock_hertz", "inferprobe_gpu_throttle_active",
	"inferprobe_gpu_ecc_errors_total", "inferprobe_gpu_ecc_lifetime_errors_total", "inferprobe_gpu_xid_errors_total",
	"inferprobe_gpu_process_memory_bytes", "inferprobe_gpu_sample_errors_total", "inferprobe_gpu_last_sample_timestamp_seconds"}

var metricNameRE = regexp.MustCompile(`\binferprobe_[a-z0-9_]+`)

// readsNVML names the NVML metric a query reads, if any.
func readsNVML(expr string) string {
	for _, m := range metricNameRE.FindAllString(expr, -1) {
		for _, n := range nvmlMetrics {
			if m == n {
				return m
			}
		}
	}
	return ""
}

var (
	forRE = regexp.MustCompile(`(?m)^([ \t]+for:[ \t]*)\S+[ \t]*$`)
	// A comparison with a constant: the alert's threshold (and its "== 0" forms).
	thresholdRE = regexp.MustCompile(`\s*(?:>=|<=|==|!=|>|<)\s*-?[0-9.]+(?:e-?[0-9]+)?(\s*(?:$|\n|\bor\b|\band\b|\bunless\b|\)))`)
	// "or vector(0)" fills a panel with a zero when the data is missing: the check wants
	// the data.
	orVectorRE = regexp.MustCompile(`\s+or\s+vector\(0\)`)
)

// shortFor rewrites every rule's for: to 1s, keeping the thresholds as shipped.
func shortFor(rules []byte) []byte {
	return forRE.ReplaceAll(rules, []byte("${1}1s"))
}

// signalOf is what a query must return data for: an alert's expression without its
// thresholds (the condition itself is checked by the alerts firing) and a panel's without
// its "or vector(0)" fallback.
func signalOf(expr string) string {
	return thresholdRE.ReplaceAllString(orVectorRE.ReplaceAllString(expr, ""), "$1")
}

type kitQuery struct {
	Source, Title, Expr string
}

// kitQueries runs deploy/validate's cmd/queries: every dashboard and rules expression.
func kitQueries(t *testing.T) []kitQuery {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is needed to list the kit's queries (deploy/validate/cmd/queries): " + err.Error())
	}
	cmd := exec.Command(goBin, "run", "./cmd/queries", "--range", "1m")
	cmd.Dir = filepath.Join("..", "..", "deploy", "validate")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./cmd/queries: %v: %s", err, stderr.String())
	}
	var qs []kitQuery
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var q kitQuery
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatalf("queries line %q: %v", sc.Text(), err)
		}
		qs = append(qs, q)
	}
	if len(qs) < 20 {
		t.Fatalf("cmd/queries listed %d queries", len(qs))
	}
	return qs
}

// firing returns the alerts firing now: name to the unit labels of its instances.
func (p *promServer) firing(t *testing.T) map[string][]string {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("alerts: %v (status %q)", err, r.Status)
	}
	out := map[string][]string{}
	for _, a := range r.Data.Alerts {
		if a.State == "firing" {
			out[a.Labels["alertname"]] = append(out[a.Labels["alertname"]], a.Labels["unit"])
		}
	}
	return out
}

// loadedRules counts the rules the server evaluates.
func (p *promServer) loadedRules(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				Rules []json.RawMessage `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("rules: %v", err)
	}
	n := 0
	for _, g := range r.Data.Groups {
		n += len(g.Rules)
	}
	return n
}

// startFaultEngine starts an engine whose simulated driver injects fault
// (FAKECUDA_FAULT) and stall (FAKECUDA_STALL), and returns its URL and pid.
func startFaultEngine(t *testing.T, fault, stall string, args ...string) (string, int) {
	t.Setenv("FAKECUDA_FAULT", fault)
	t.Setenv("FAKECUDA_STALL", stall)
	eng := startHelper(t, "engine", args...)
	url, pid := parseReady(t, eng.line(t, 30*time.Second))
	return url, pid
}

func TestOpsKitEndToEnd(t *testing.T) {
	requireKernel(t)
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus): " + err.Error())
	}
	began := time.Now()
	queries := kitQueries(t)
	shipped, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "inferprobe-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(forRE.FindAll(shipped, -1)); n < 10 {
		t.Fatalf("the shipped rules have %d for: fields", n)
	}
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, shortFor(shipped), 0o644); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	// Overloaded: two requests run at a time and 16 wait; the rest get 429.
	busyURL, busyPID := startFaultEngine(t, "", "", append(engineArgs(t, filepath.Join(dir, "busy.jsonl")),
		"--max-num-seqs=2", "--max-waiting=16")...)
	// The 40th wait returns CUDA_ERROR_ILLEGAL_ADDRESS (700): sticky, the engine is dead.
	stickyURL, stickyPID := startFaultEngine(t, "wait:40:700", "", engineArgs(t, filepath.Join(dir, "sticky.jsonl"))...)
	// The 11th allocation fails with CUDA_ERROR_OUT_OF_MEMORY (2): start-up takes 10 (4
	// layers of weights and of KV cache, the step's input and output), so it is a step's
	// scratch buffer; the step's requests fail and the engine goes on. Its 300th wait
	// blocks 4 s more: past the agent's --correlate.stall-after (1 s), a stall.
	oomURL, oomPID := startFaultEngine(t, "alloc:11:2", "wait:300:4000", engineArgs(t, filepath.Join(dir, "oom.jsonl"))...)
	t.Setenv("FAKECUDA_FAULT", "")
	t.Setenv("FAKECUDA_STALL", "")

	_, metrics := startAgent(t, fmt.Sprintf("--pid=%d", busyPID), fmt.Sprintf("--pid=%d", stickyPID),
		fmt.Sprintf("--pid=%d", oomPID), "--collector.gpu.interval=1s", "--correlate.stall-after=1s")
	waitFor(t, 10*time.Second, "the agent attached to the three engines", func() bool {
		return sumBy(scrape(t, metrics)["inferprobe_agent_attached_processes"], "", nil)[""] >= 3
	})
	target := strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/metrics")
	prom, _ := startPrometheusRules(t, target, rules)
	waitFor(t, 20*time.Second, "prometheus to scrape the agent", func() bool {
		return len(prom.query(t, `inferprobe_agent_attached_processes >= 3`)) == 1
	})
	nrules := 0
	for _, q := range queries {
		if q.Source == "rules" {
			nrules++
		}
	}
	if n := prom.loadedRules(t); n != nrules {
		t.Fatalf("prometheus evaluates %d rules, the rules file has %d: %s", n, nrules, prom.logs())
	}

	// Load: the busy engine gets 20 requests/s and a burst of 30 every second (429s over
	// many scrapes, a queue pinned at --max-waiting); the others a light load.
	busy := e2eLoad(busyURL, 8, 11)
	busy.Bursts = nil
	for s := 1; s <= 7; s++ {
		busy.Bursts = append(busy.Bursts, load.Burst{N: 30, At: time.Duration(s) * time.Second})
	}
	light := func(url string, seed uint64) load.Config {
		c := e2eLoad(url, 8, seed)
		c.Rate, c.Bursts = 8, nil
		return c
	}
	var wg sync.WaitGroup
	results := make([]string, 3)
	for i, c := range []load.Config{busy, light(stickyURL, 12), light(oomURL, 13)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := load.Run(context.Background(), c, io.Discard)
			results[i] = fmt.Sprintf("%v (err %v)", sum, err)
		}()
	}
	loadDone := make(chan struct{})
	go func() { wg.Wait(); close(loadDone) }()

	// The alerts the engines are pushed into, each on the unit of its engine: the
	// testbed's units are named COMM:PORT.
	unitOf := func(url string) string { return url[strings.LastIndex(url, ":"):] }
	want := map[string]string{"InferprobeQueueDepthHigh": unitOf(busyURL), "InferprobeRateLimitedBurst": unitOf(busyURL),
		"InferprobeCUDAStickyFault": unitOf(stickyURL), "InferprobeCUDAOutOfMemory": unitOf(oomURL),
		"InferprobeGPUWaitStalled": unitOf(oomURL)}
	seen, also := map[string]time.Duration{}, map[string][]string{}
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for len(seen) < len(want) && time.Now().Before(deadline) {
		for name, units := range prom.firing(t) {
			for _, u := range units {
				if _, ok := seen[name]; !ok && want[name] != "" && strings.HasSuffix(u, want[name]) {
					seen[name] = time.Since(start).Round(100 * time.Millisecond)
				} else if (want[name] == "" || !strings.HasSuffix(u, want[name])) && !contains(also[name], u) {
					also[name] = append(also[name], u)
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	<-loadDone
	for i, r := range results {
		t.Logf("load %d: %s", i, r)
	}
	names := make([]string, 0, len(want))
	for a := range want {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		unit := want[a]
		if at, ok := seen[a]; ok {
			t.Logf("alert %s firing for unit *%s %v after the load began", a, unit, at)
		} else {
			t.Errorf("alert %s never fired for unit *%s", a, unit)
		}
	}
	for name, units := range also {
		t.Logf("also firing: %s for units %q", name, units)
	}

	// Every query of the kit has data, but the declared NVML ones: they have data exactly
	// when the agent samples a GPU.
	nvml := len(prom.query(t, "inferprobe_gpu_last_sample_timestamp_seconds")) > 0
	var empty, expectedEmpty []string
	for _, q := range queries {
		expr := signalOf(q.Expr)
		n := len(prom.query(t, expr))
		name := q.Source + " " + q.Title
		if m := readsNVML(expr); m != "" {
			expectedEmpty = append(expectedEmpty, fmt.Sprintf("%s (%s)", name, m))
			if (n > 0) != nvml {
				t.Errorf("%s: %d series, NVML sampled: %v\n%s", name, n, nvml, expr)
			}
			continue
		}
		if n == 0 {
			empty = append(empty, name+"\n    "+expr)
		}
	}
	sort.Strings(expectedEmpty)
	t.Logf("%d queries, %d read NVML (expected empty without a GPU):\n  %s", len(queries), len(expectedEmpty),
		strings.Join(expectedEmpty, "\n  "))
	if len(empty) > 0 {
		t.Errorf("%d queries return nothing:\n  %s", len(empty), strings.Join(empty, "\n  "))
	}
	if logs := prom.logs(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "level=error") {
		t.Errorf("prometheus logged errors:\n%s", logs)
	}
	t.Logf("took %v", time.Since(began).Round(time.Second))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestOpsKitRewrites(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`inferprobe_requests_waiting > 10`, `inferprobe_requests_waiting`},
		{`up{job="inferprobe"} == 0`, `up{job="inferprobe"}`},
		{"max (a) > 30\nor\nmax (b) > 0", "max (a)\nor\nmax (b)"},
		{"(\n  sum (rate(a[5m])) / sum (rate(b[5m]))\n) > 0.001\nor\nsum (c unless c offset 5m) > 0",
			"(\n  sum (rate(a[5m])) / sum (rate(b[5m]))\n)\nor\nsum (c unless c offset 5m)"},
		{`histogram_quantile(0.95, sum by (le) (rate(x_bucket{class!="ok"}[1m])))`, `histogram_quantile(0.95, sum by (le) (rate(x_bucket{class!="ok"}[1m])))`},
		{`sum by (unit) (rate(e[1m])) or vector(0)`, `sum by (unit) (rate(e[1m]))`},
		{`max (a) == 0 and on (job) count (b) > 0`, `max (a) and on (job) count (b)`},
	} {
		if got := signalOf(c.in); got != c.want {
			t.Errorf("signalOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	in := "      - alert: A\n        expr: x > 1\n        for: 5m\n        labels:\n      - alert: B\n        for: 10m\n"
	want := "      - alert: A\n        expr: x > 1\n        for: 1s\n        labels:\n      - alert: B\n        for: 1s\n"
	if got := string(shortFor([]byte(in))); got != want {
		t.Errorf("shortFor:\n%s\nwant\n%s", got, want)
	}
}
