package export

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inferprobe/inferprobe/correlate"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func podOf(unit string) (string, string, string) {
	if unit == "api:8000" {
		return "ml", "api-7d9f", "engine"
	}
	return "", "", ""
}

// syntheticRegistry runs unitStream into Metrics and Live and registers them.
func syntheticRegistry(t *testing.T) (*prometheus.Registry, *Metrics, *Live) {
	t.Helper()
	m := NewMetrics(podOf)
	c := run(t, unitStream(), m, 1000)
	live := NewLive(podOf, LiveOptions{})
	live.Publish(c, 1000*ms, wallAt(1000*ms))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m, NewLiveCollector(live), NewAgentCollector(func() (AgentStats, error) {
		return AgentStats{Events: map[string]uint64{"cuda": 40, "sock": 20, "proc": 2}, Dropped: 3, Tracked: 2, Attached: 1, AttachErrors: 1}, nil
	}))
	return reg, m, live
}

func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	return want
}

func TestMetricsGolden(t *testing.T) {
	reg, _, _ := syntheticRegistry(t)
	got := exposition(t, reg)
	want := golden(t, "metrics.golden", got)
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsValues checks the figures of the synthetic stream one by one, so that a
// golden file rewritten by mistake cannot hide a wrong number.
func TestMetricsValues(t *testing.T) {
	_, m, live := syntheticRegistry(t)
	lv := func(extra ...string) []string {
		return append([]string{"api:8000", "ml", "api-7d9f", "engine"}, extra...)
	}
	counter := func(name string, c prometheus.Collector, want float64) {
		t.Helper()
		if got := testutil.ToFloat64(c); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %g, want %g", name, got, want)
		}
	}
	counter("ok", m.requests.WithLabelValues(lv("ok", "200")...), 2)
	counter("rate_limited", m.requests.WithLabelValues(lv("rate_limited", "429")...), 1)
	counter("context_length", m.requests.WithLabelValues(lv("context_length", "400")...), 1)
	counter("output tokens", m.outTokens.WithLabelValues(lv()...), 4+3)
	counter("prompt tokens", m.promptTokens.WithLabelValues(lv()...), 7)
	counter("oom", m.cudaErrors.WithLabelValues(lv("cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY", "oom")...), 1)
	counter("stalls", m.stalls.WithLabelValues(lv()...), 1)

	// Only the streamed request has a TTFT: 13.2 - 2 ms; its TPOT is (46.2-13.2)/3 ms.
	hist := func(name string, h *prometheus.HistogramVec, wantCount uint64, wantSum float64, extra ...string) {
		t.Helper()
		var dm = &dtoMetric{}
		if err := dm.read(h.WithLabelValues(lv(extra...)...).(prometheus.Metric)); err != nil {
			t.Fatal(err)
		}
		if dm.count != wantCount || math.Abs(dm.sum-wantSum) > 1e-9 {
			t.Errorf("%s: count %d sum %.6f, want %d %.6f", name, dm.count, dm.sum, wantCount, wantSum)
		}
		if !dm.native {
			t.Errorf("%s: native histogram is off", name)
		}
	}
	hist("ttft", m.ttft, 1, 0.0112)
	hist("tpot", m.tpot, 1, 0.011)
	hist("itl", m.itl, 3, 0.033)
	hist("queue", m.phase, 2, 0.001+0.000499, "queue") // A: 3-2 ms; B: 14-13.501 ms
	hist("prefill decode steps", m.stepSeconds, 2, 0.020, "decode")

	units, _ := live.Units()
	if len(units) != 1 {
		t.Fatalf("live units = %+v", units)
	}
	u := units[0]
	if u.Launches != 8 || u.GraphLaunches != 2 || u.OtherKernels != 0 || len(u.Kernels) != 2 ||
		u.Kernels[0] != (kc{Name: "attn", Count: 2}) || u.Kernels[1] != (kc{Name: "gemm", Count: 6}) {
		t.Errorf("launches %d graphs %d kernels %v other %d", u.Launches, u.GraphLaunches, u.Kernels, u.OtherKernels)
	}
	if u.MemBeforeBytes != 1<<30 || u.MemAfterBytes != 4096 || u.Stalled != 1 || u.LongestWaitNS != 840*ms {
		t.Errorf("memory %d/%d stalled %d longest wait %d", u.MemBeforeBytes, u.MemAfterBytes, u.Stalled, u.LongestWaitNS)
	}
	// The engine started at 2 ms of stream time: 998 ms before the publication.
	if want := float64(wall0.UnixNano()+int64(2*ms)) / 1e9; math.Abs(u.StartUnix-want) > 1e-6 {
		t.Errorf("start %f, want %f", u.StartUnix, want)
	}
	if got := live.UnitOf(11); got != "api:8000" {
		t.Errorf("unit of pid 11 = %q", got)
	}
}

// TestMetricsPromtool lints the exposition with promtool check metrics.
func TestMetricsPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus): " + err.Error())
	}
	reg, _, _ := syntheticRegistry(t)
	reg.MustRegister(NewBuildInfo("test"))
	text := exposition(t, reg)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	} else if err != nil {
		t.Fatal(err)
	}
}

func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBuildInfo("1.2.3"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "inferprobe_build_info" || mfs[0].Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("build info = %v", mfs)
	}
	labels := map[string]string{}
	for _, l := range mfs[0].Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "1.2.3" || !strings.HasPrefix(labels["goversion"], "go") || labels["revision"] == "" {
		t.Fatalf("build info labels = %v", labels)
	}
}

// A partial request (in flight at the attach) counts as a request and its tokens, and
// enters no latency histogram, even with the figures it could measure.
func TestMetricsPartialRequest(t *testing.T) {
	m := NewMetrics(nil)
	tokens, tpot, decode, status := 40, 0.02, 0.8, 200
	m.Request(&correlate.Request{ID: "p", Unit: "u", Class: correlate.ClassOK, Status: &status, Stream: true, Partial: true,
		OutputTokens: &tokens, TPOT: &tpot, Decode: &decode, ITL: []float64{0.02, 0.02}})
	if got := testutil.ToFloat64(m.requests.WithLabelValues(m.labels.values("u", "ok", "200")...)); got != 1 {
		t.Errorf("requests_total %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.outTokens.WithLabelValues(m.labels.values("u")...)); got != 40 {
		t.Errorf("output_tokens_total %v, want 40", got)
	}
	for name, c := range map[string]prometheus.Collector{"ttft": m.ttft, "tpot": m.tpot, "itl": m.itl, "e2e": m.e2e, "phase": m.phase} {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("%s has %d series after a partial request", name, n)
		}
	}
}
