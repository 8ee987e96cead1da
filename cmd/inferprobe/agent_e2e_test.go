package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// e2eLoad is about 20 requests/s and 2,000 tokens/s for 8 s: streams and not, client
// aborts, over-long prompts (400) and a burst past --max-waiting (429).
func e2eLoad(url string, seconds float64, seed uint64) load.Config {
	d := func(s string) load.Dist {
		v, err := load.ParseDist(s, 0)
		if err != nil {
			panic(err)
		}
		return v
	}
	return load.Config{URL: url, Model: "testbed", Rate: 20, Arrivals: "poisson", Concurrency: 64,
		Duration: time.Duration(seconds * float64(time.Second)), PromptTokens: d("4:200"), MaxTokens: d("50:150"),
		PromptMode: "text", StreamFrac: 0.85, IncludeUsage: true, OverlongFrac: 0.03, MaxModelLen: 1024,
		AbortFrac: 0.05, AbortAfter: d("0:8"), Bursts: []load.Burst{{N: 40, At: 2 * time.Second}},
		Seed: seed, Timeout: 30 * time.Second}
}

// truthFigures are the ground truth's latencies.
type truthFigures struct {
	classes    map[string]int
	ttft, tpot []float64
	tokens     int
}

func figures(reqs []truth.Request) truthFigures {
	f := truthFigures{classes: map[string]int{}}
	for _, r := range reqs {
		f.classes[r.Class]++
		f.tokens += r.CompletionTokens
		if !r.Stream || len(r.TokenNS) == 0 {
			continue
		}
		f.ttft = append(f.ttft, float64(r.TokenNS[0]-r.ArrivalNS)/1e9)
		if n := len(r.TokenNS); n > 1 {
			f.tpot = append(f.tpot, float64(r.TokenNS[n-1]-r.TokenNS[0])/1e9/float64(n-1))
		}
	}
	return f
}

func TestAgentEndToEnd(t *testing.T) {
	requireKernel(t)
	truthPath := filepath.Join(t.TempDir(), "truth.jsonl")
	eng := startHelper(t, "engine", engineArgs(t, truthPath)...)
	url, pid := parseReady(t, eng.line(t, 30*time.Second))
	agent, metrics := startAgent(t, fmt.Sprintf("--pid=%d", pid), "--collector.gpu.interval=1s")
	waitFor(t, 10*time.Second, "the agent attached to the engine", func() bool {
		return sumBy(scrape(t, metrics)["inferprobe_agent_attached_processes"], "", nil)[""] >= 1
	})
	target := strings.TrimSuffix(strings.TrimPrefix(metrics, "http://"), "/metrics")
	prom, noProm := startPrometheus(t, target)
	// A second server with native histograms on (they replace the classic buckets there).
	native, _ := startPrometheus(t, target, "--enable-feature=native-histograms")

	var out bytes.Buffer
	sum, err := load.Run(context.Background(), e2eLoad(url, 8, 7), &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %v", sum)
	eng.stop(t, 20*time.Second)
	reqs, _, err := truth.Read(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	want := figures(reqs)
	unit := ""
	waitFor(t, 15*time.Second, fmt.Sprintf("the agent counting all %d requests", len(reqs)), func() bool {
		by := sumBy(scrape(t, metrics)["inferprobe_requests_total"], "unit", nil)
		for u, n := range by {
			unit = u
			return int(n) >= len(reqs)
		}
		return false
	})
	mfs := scrape(t, metrics)
	got := sumBy(mfs["inferprobe_requests_total"], "class", map[string]string{"unit": unit})
	t.Logf("unit %s: agent %v, truth %v", unit, got, want.classes)
	for class, n := range want.classes {
		if int(got[class]) != n {
			t.Errorf("class %s: agent counted %g, truth %d", class, got[class], n)
		}
	}
	for class, n := range got {
		if want.classes[class] == 0 {
			t.Errorf("class %s: agent counted %g, truth none", class, n)
		}
	}
	if n := sumBy(mfs["inferprobe_request_ttft_seconds"], "", nil)[""]; int(n) != len(want.ttft) {
		t.Errorf("ttft observations %g, truth has %d streamed requests with a first token", n, len(want.ttft))
	}
	tokens := sumBy(mfs["inferprobe_output_tokens_total"], "", nil)[""]
	if math.Abs(tokens-float64(want.tokens)) > 0.01*float64(want.tokens) {
		t.Errorf("output tokens %g, truth %d", tokens, want.tokens)
	}
	if d := sumBy(mfs["inferprobe_agent_dropped_events_total"], "", nil)[""]; d != 0 {
		t.Errorf("%g events dropped", d)
	}

	t.Run("promtool", func(t *testing.T) { promtoolCheck(t, metrics) })
	t.Run("prometheus", func(t *testing.T) {
		if prom == nil {
			t.Skip(noProm)
		}
		checkPrometheus(t, prom, unit, len(reqs), want, false)
	})
	t.Run("prometheus-native", func(t *testing.T) {
		if native == nil {
			t.Skip(noProm)
		}
		checkPrometheus(t, native, unit, len(reqs), want, true)
	})

	ids := bpfObjects(t, agent.cmd.Process.Pid)
	if len(ids.progs) == 0 || len(ids.links) == 0 {
		t.Fatalf("the running agent holds no BPF programs or links: %+v", ids)
	}
	agent.stop(t, 15*time.Second)
	if !strings.Contains(agent.Stderr(), "stopped: probes detached") {
		t.Errorf("agent log lacks its clean stop: %s", agent.Stderr())
	}
	waitFor(t, 10*time.Second, "the agent's BPF programs, maps and links to leave the kernel", func() bool {
		return ids.alive() == ""
	})
	t.Logf("after SIGTERM: %d programs, %d maps and %d links of the agent are gone", len(ids.progs), len(ids.maps), len(ids.links))
}

// checkPrometheus queries the server once it has scraped the final counts: requests by
// class must match the truth, and histogram_quantile of TTFT and TPOT must fall within
// the buckets around the truth's quantile: the classic buckets, or the native ones (at
// most 10% wide) when native.
func checkPrometheus(t *testing.T, prom *promServer, unit string, total int, want truthFigures, native bool) {
	sel := fmt.Sprintf(`{unit=%q}`, unit)
	waitFor(t, 20*time.Second, "prometheus to scrape the final counts", func() bool {
		s := prom.query(t, "sum(inferprobe_requests_total"+sel+")")
		return len(s) == 1 && int(s[0].value) == total
	})
	for _, s := range prom.query(t, "sum by (class) (inferprobe_requests_total"+sel+")") {
		if c := s.labels["class"]; int(s.value) != want.classes[c] {
			t.Errorf("prometheus: class %s %g, truth %d", c, s.value, want.classes[c])
		}
	}
	for _, h := range []struct {
		metric  string
		buckets []float64
		truth   []float64
	}{
		{"inferprobe_request_ttft_seconds", export.TTFTBuckets, want.ttft},
		{"inferprobe_request_tpot_seconds", export.TPOTBuckets, want.tpot},
	} {
		for _, q := range []float64{0.5, 0.99} {
			query := fmt.Sprintf("histogram_quantile(%g, sum by (le) (%s_bucket%s))", q, h.metric, sel)
			if native {
				query = fmt.Sprintf("histogram_quantile(%g, sum(%s%s))", q, h.metric, sel)
			}
			est := prom.scalar(t, query)
			tv := export.Quantile(h.truth, q)
			// The truth's samples next to the quantile's rank: the two quantile
			// definitions (and microseconds of clock) may pick a neighbour.
			step := 2 / float64(len(h.truth))
			a, b := export.Quantile(h.truth, max(0, q-step)), export.Quantile(h.truth, min(1, q+step))
			lo, hi := bucketOf(h.buckets, a)[0], bucketOf(h.buckets, b)[1]
			if native {
				lo, hi = a/1.1, b*1.1
			}
			t.Logf("%s p%g: prometheus %.5f s, truth %.5f s (allowed [%.5f, %.5f])", h.metric, q*100, est, tv, lo, hi)
			if est < lo || est > hi {
				t.Errorf("%s p%g: prometheus %.5f s is not within the buckets around the truth %.5f s: [%.5f, %.5f]", h.metric, q*100, est, tv, lo, hi)
			}
		}
	}
}

// bucketOf returns the bounds of the classic bucket holding v: (bounds[i-1], bounds[i]].
func bucketOf(bounds []float64, v float64) [2]float64 {
	i := sort.SearchFloat64s(bounds, v)
	lo, hi := 0.0, math.Inf(1)
	if i > 0 {
		lo = bounds[i-1]
	}
	if i < len(bounds) {
		hi = bounds[i]
	}
	return [2]float64{lo, hi}
}

// promtoolCheck lints the agent's exposition with promtool check metrics.
func promtoolCheck(t *testing.T, url string) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus): " + err.Error())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// waitFor polls cond every 200 ms until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
