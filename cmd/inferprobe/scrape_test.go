package main

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var servingRE = regexp.MustCompile(`msg="serving metrics" address=(\S+)`)

// startAgent runs `inferprobe agent` with args on a free loopback port and returns it
// with its metrics URL once it serves.
func startAgent(t testing.TB, args ...string) (*proc, string) {
	t.Helper()
	a := startHelper(t, "main", append([]string{"agent", "--web.listen-address=127.0.0.1:0"}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(a.Stderr()); m != nil {
			return a, "http://" + m[1] + "/metrics"
		}
		if a.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent not serving: %s", a.Stderr())
	return nil, ""
}

// scrape reads the metrics at url.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// sumBy sums a family's values by the value of label ("" sums everything), over the
// series whose labels match where.
func sumBy(mf *dto.MetricFamily, label string, where map[string]string) map[string]float64 {
	out := map[string]float64{}
	if mf == nil {
		return out
	}
	for _, m := range mf.Metric {
		ls := map[string]string{}
		for _, l := range m.Label {
			ls[l.GetName()] = l.GetValue()
		}
		skip := false
		for k, v := range where {
			if ls[k] != v {
				skip = true
			}
		}
		if skip {
			continue
		}
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue() + float64(m.GetHistogram().GetSampleCount())
		out[ls[label]] += v
	}
	return out
}
