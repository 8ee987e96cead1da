package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestChartRulesAndDashboard(t *testing.T) {
	_, objs := render(t, "prometheusRule: {enabled: true}\ndashboard: {enabled: true}\n", DefaultRelease)
	pr := find[*monitoringv1.PrometheusRule](t, objs)
	var alerts, records int
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts++
			} else {
				records++
			}
		}
	}
	if alerts != 18 || records != 6 {
		t.Errorf("PrometheusRule has %d alerts and %d recording rules, want 18 and 6", alerts, records)
	}
	cm := find[*corev1.ConfigMap](t, objs)
	want, err := os.ReadFile(filepath.Join(root(t), DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["inferprobe.json"] != strings.TrimRight(string(want), "\n") || cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap: %d bytes, label %q; want deploy/grafana/inferprobe.json and the sidecar label",
			len(cm.Data["inferprobe.json"]), cm.Labels["grafana_dashboard"])
	}
}

// TestChartThresholdsAreValues changes every threshold and checks each lands in its rule.
func TestChartThresholdsAreValues(t *testing.T) {
	values := `
prometheusRule: {enabled: true}
alerts:
  slo: {ttftP95Seconds: 1.5, ttftP99Seconds: 4, tpotP95Seconds: 0.05, tpotP99Seconds: 0.08, for: 10m}
  queueDepth: 25
  vramUsedRatio: 0.9
  temperatureCelsius: 80
  oomPerRequest: 0.01
  rateLimitedPerSecond: 5
  contextLengthPerSecond: 2
  gpuWaitSeconds: 60
  droppedEventsPerSecond: 10
  job: gpu-agents
  severity: {critical: page, warning: ticket}
`
	_, objs := render(t, values, DefaultRelease)
	pr := find[*monitoringv1.PrometheusRule](t, objs)
	want := map[string]string{
		"InferprobeTTFTP95High":          "> 1.5",
		"InferprobeTTFTP99High":          "> 4",
		"InferprobeTPOTP95High":          "> 0.05",
		"InferprobeTPOTP99High":          "> 0.08",
		"InferprobeQueueDepthHigh":       "> 25",
		"InferprobeGPUMemoryNearlyFull":  "> 0.9",
		"InferprobeGPUTemperatureHigh":   "> 80",
		"InferprobeCUDAOutOfMemory":      "> 0.01",
		"InferprobeRateLimitedBurst":     "> 5",
		"InferprobeContextLengthErrors":  "> 2",
		"InferprobeGPUWaitStalled":       "> 60",
		"InferprobeAgentDroppingEvents":  "> 10",
		"InferprobeAgentDown":            `up{job="gpu-agents"}`,
		"InferprobeCUDAStickyFault":      "sticky_fault",
		"InferprobeGPUXidError":          "xid",
		"InferprobeGPUThermalThrottling": "thermal",
		"InferprobeAgentLostTargets":     "attached",
		"InferprobeAgentAttachErrors":    "attach_errors",
	}
	got := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			got[r.Alert] = true
			if !strings.Contains(r.Expr.String(), want[r.Alert]) {
				t.Errorf("%s: expr %q lacks %q", r.Alert, r.Expr.String(), want[r.Alert])
			}
			if sev := r.Labels["severity"]; sev != "page" && sev != "ticket" {
				t.Errorf("%s: severity %q, want the values' page or ticket", r.Alert, sev)
			}
			if strings.HasPrefix(r.Alert, "InferprobeT") && (r.For == nil || *r.For != "10m") {
				t.Errorf("%s: for %v, want the SLO's 10m", r.Alert, r.For)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("alerts %v, want %d", got, len(want))
	}
}

func TestChartSchemaRejectsBadValues(t *testing.T) {
	cases := map[string]string{
		"privileged as a string":       "securityContext: {privileged: \"yes\"}\n",
		"CAP_ prefix":                  "securityContext: {capabilities: [CAP_BPF]}\n",
		"threshold as a word":          "alerts: {queueDepth: ten}\n",
		"negative threshold":           "alerts: {vramUsedRatio: -1}\n",
		"ratio above one":              "alerts: {vramUsedRatio: 95}\n",
		"duration in words":            "alerts: {slo: {for: five minutes}}\n",
		"port out of range":            "agent: {port: 70000}\n",
		"unknown top-level value":      "privileged: true\n",
		"tracefs readOnly not boolean": "hostPaths: {tracefs: {readOnly: sometimes}}\n",
	}
	ch := loadChart(t)
	for name, values := range cases {
		if _, err := Render(ch, values, DefaultRelease); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("%s: %v, want a schema error", name, err)
		}
	}
}
