package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func loadDashboard(t *testing.T) Dashboard {
	t.Helper()
	d, err := LoadDashboard(filepath.Join(root(t), DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion != 39 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d uid %q title %q, want 39 and both set", d.SchemaVersion, d.UID, d.Title)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Type == "query" {
			if !v.IncludeAll || v.AllValue != ".*" || v.Datasource["uid"] != "${datasource}" {
				t.Errorf("variable %s: includeAll %v allValue %q datasource %v, want true, .* and ${datasource}",
					v.Name, v.IncludeAll, v.AllValue, v.Datasource)
			}
			if _, err := VariableQuery(v.Definition); err != nil {
				t.Error(err)
			}
		}
	}
	if want := []string{"datasource", "node", "namespace", "pod", "unit", "gpu"}; !slices.Equal(vars, want) {
		t.Errorf("variables %v, want %v", vars, want)
	}

	ids := map[int]string{}
	var boxes []Panel
	for _, p := range d.AllPanels() {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for _, o := range boxes {
			h := o.GridPos
			if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", p.Title, o.Title)
			}
		}
		boxes = append(boxes, p)
		if p.Type == "row" {
			continue
		}
		if p.Datasource["uid"] != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
	}
}

// TestDashboardAnswersTheQuestions checks the dashboard shows what the issue asks for.
func TestDashboardAnswersTheQuestions(t *testing.T) {
	d := loadDashboard(t)
	var exprs []string
	heatmap := false
	for _, p := range d.AllPanels() {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
			if p.Type == "heatmap" && strings.Contains(tg.Expr, "inferprobe_gpu_step_batch_size_bucket") && tg.Format == "heatmap" {
				heatmap = true
			}
		}
	}
	all := strings.Join(exprs, "\n")
	want := map[string]string{}
	for _, m := range []string{"ttft", "tpot"} {
		for _, q := range []string{"0.5", "0.95", "0.99"} {
			want[m+" p"+q] = `histogram_quantile\(` + regexp.QuoteMeta(q) + `, sum by \(unit, le\) \(rate\(inferprobe_request_` + m + `_seconds_bucket`
		}
	}
	for name, re := range map[string]string{
		"tokens/s":                 `rate\(inferprobe_output_tokens_total`,
		"requests/s":               `rate\(inferprobe_requests_total`,
		"phase breakdown":          `sum by \(phase\) \(rate\(inferprobe_request_phase_seconds_sum`,
		"queue depth":              `inferprobe_requests_waiting`,
		"running":                  `inferprobe_requests_running`,
		"errors by class":          `sum by \(unit, class\) \(rate\(inferprobe_requests_total\{[^}]*class!="ok"`,
		"CUDA errors":              `inferprobe_cuda_errors_total`,
		"host idle":                `inferprobe_gpu_host_idle_seconds_total`,
		"longest wait in flight":   `inferprobe_gpu_wait_in_flight_seconds`,
		"GPU utilisation":          `inferprobe_gpu_utilization_ratio`,
		"GPU memory":               `inferprobe_gpu_memory_used_bytes\{[^}]*\} / inferprobe_gpu_memory_total_bytes`,
		"temperature":              `inferprobe_gpu_temperature_celsius`,
		"power":                    `inferprobe_gpu_power_watts`,
		"throttling":               `inferprobe_gpu_throttle_active`,
		"XID":                      `inferprobe_gpu_xid_errors_total`,
		"agent drops":              `inferprobe_agent_dropped_events_total`,
		"sticky faults":            `inferprobe_unit_faulted`,
		"batch size per step mean": `inferprobe_gpu_step_batch_size_sum`,
	} {
		want[name] = re
	}
	for name, re := range want {
		if !regexp.MustCompile(re).MatchString(all) {
			t.Errorf("no panel shows %s (/%s/)", name, re)
		}
	}
	if !heatmap {
		t.Error("no heatmap panel of inferprobe_gpu_step_batch_size_bucket in heatmap format")
	}
}

// TestDashboardFollowsTheVariables checks every unit-level query filters on the unit,
// pod, namespace and node variables and every GPU query on node and gpu.
func TestDashboardFollowsTheVariables(t *testing.T) {
	doc := documentedMetrics(t)
	gpuMetric := regexp.MustCompile(`inferprobe_gpu_(utilization|memory_utilization|memory_used|memory_total|temperature|power|sm_clock|throttle|xid|ecc)`)
	agentMetric := regexp.MustCompile(`inferprobe_agent_`)
	for _, p := range loadDashboard(t).AllPanels() {
		for _, tg := range p.Targets {
			where := fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)
			checkMetricNames(t, where, tg.Expr, doc)
			for _, sel := range regexp.MustCompile(`inferprobe_[a-z_]+\{[^}]*\}`).FindAllString(tg.Expr, -1) {
				var need []string
				switch {
				case agentMetric.MatchString(sel):
					need = []string{`node=~"$node"`}
				case gpuMetric.MatchString(sel):
					need = []string{`node=~"$node"`, `gpu=~"$gpu"`}
				default:
					need = []string{`node=~"$node"`, `namespace=~"$namespace"`, `pod=~"$pod"`, `unit=~"$unit"`}
				}
				for _, n := range need {
					if !strings.Contains(sel, n) {
						t.Errorf("%s: %s lacks %s", where, sel, n)
					}
				}
			}
			if regexp.MustCompile(`inferprobe_[a-z_]+\[`).MatchString(tg.Expr) || regexp.MustCompile(`inferprobe_[a-z_]+\)`).MatchString(tg.Expr) {
				t.Errorf("%s: a metric without a selector ignores the variables: %s", where, tg.Expr)
			}
		}
	}
}

// healthySeries is one node as the agent exposes it when nothing is wrong: every metric of
// docs/metrics.md that exists without an error having happened, one unit, one GPU.
func healthySeries() []map[string]string {
	const u = `job="inferprobe",instance="10.0.0.1:9477",node="gpu-1",namespace="inference",pod="vllm-0",container="vllm",unit="vllm-0"`
	const g = `job="inferprobe",instance="10.0.0.1:9477",node="gpu-1",gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3"`
	const a = `job="inferprobe",instance="10.0.0.1:9477",node="gpu-1"`
	var s []map[string]string
	add := func(series, values string) { s = append(s, map[string]string{"series": series, "values": values}) }
	hist := func(name, labels string, les ...string) {
		for i, le := range les {
			add(fmt.Sprintf(`%s_bucket{%s,le="%s"}`, name, labels, le), fmt.Sprintf("0+%dx20", 10*(i+1)))
		}
		add(fmt.Sprintf(`%s_bucket{%s,le="+Inf"}`, name, labels), fmt.Sprintf("0+%dx20", 10*(len(les)+1)))
		add(fmt.Sprintf(`%s_sum{%s}`, name, labels), "0+25x20")
		add(fmt.Sprintf(`%s_count{%s}`, name, labels), fmt.Sprintf("0+%dx20", 10*(len(les)+1)))
	}
	hist("inferprobe_request_ttft_seconds", u, "0.1", "0.5", "2")
	hist("inferprobe_request_tpot_seconds", u, "0.01", "0.05", "0.1")
	hist("inferprobe_request_inter_token_seconds", u, "0.01", "0.05", "0.1")
	hist("inferprobe_request_e2e_seconds", u, "1", "10", "60")
	for _, ph := range []string{"queue", "prefill", "decode"} {
		hist("inferprobe_request_phase_seconds", u+`,phase="`+ph+`"`, "0.1", "1", "10")
	}
	for _, k := range []string{"prefill", "decode"} {
		hist("inferprobe_gpu_step_seconds", u+`,kind="`+k+`"`, "0.01", "0.1", "1")
		hist("inferprobe_gpu_step_batch_size", u+`,kind="`+k+`"`, "1", "2", "4", "8", "16")
	}
	add(`inferprobe_requests_total{`+u+`,class="ok",code="200"}`, "0+600x20")
	add(`inferprobe_output_tokens_total{`+u+`}`, "0+60000x20")
	add(`inferprobe_prompt_tokens_total{`+u+`}`, "0+120000x20")
	add(`inferprobe_requests_waiting{`+u+`}`, "3x20")
	add(`inferprobe_requests_running{`+u+`}`, "40x20")
	add(`inferprobe_cuda_launches_total{`+u+`,type="kernel"}`, "0+90000x20")
	add(`inferprobe_cuda_launches_total{`+u+`,type="graph"}`, "0+3000x20")
	add(`inferprobe_cuda_kernel_launches_total{`+u+`,kernel="flash_fwd_kernel"}`, "0+30000x20")
	add(`inferprobe_cuda_kernel_launches_total{`+u+`,kernel="other"}`, "0+60000x20")
	add(`inferprobe_gpu_wait_seconds_total{`+u+`}`, "0+40x20")
	add(`inferprobe_gpu_host_idle_seconds_total{`+u+`}`, "0+6x20")
	add(`inferprobe_gpu_wait_in_flight_seconds{`+u+`}`, "0.02x20")
	add(`inferprobe_gpu_stalled_waits{`+u+`}`, "0x20")
	add(`inferprobe_gpu_stalls_total{`+u+`}`, "0x20")
	add(`inferprobe_cuda_memory_bytes{`+u+`,phase="startup"}`, "70e9x20")
	add(`inferprobe_cuda_memory_bytes{`+u+`,phase="serving"}`, "1e9x20")
	add(`inferprobe_unit_start_time_seconds{`+u+`}`, "1.7e9x20")
	add(`inferprobe_unit_restarts_total{`+u+`}`, "0x20")
	add(`inferprobe_unit_faulted{`+u+`}`, "0x20")
	for name, v := range map[string]string{
		"utilization_ratio": "0.9x20", "memory_utilization_ratio": "0.6x20", "memory_used_bytes": "72e9x20",
		"memory_total_bytes": "80e9x20", "memory_free_bytes": "8e9x20", "temperature_celsius": "65x20",
		"power_watts": "550x20", "power_limit_watts": "700x20", "sm_clock_hertz": "1.98e9x20",
		"memory_clock_hertz": "2.6e9x20", "sample_errors_total": "0x20", "last_sample_timestamp_seconds": "1.7e9+60x20",
	} {
		add(`inferprobe_gpu_`+name+`{`+g+`}`, v)
	}
	for _, r := range []string{"gpu_idle", "sw_power_cap", "hw_thermal_slowdown", "sw_thermal_slowdown"} {
		add(`inferprobe_gpu_throttle_active{`+g+`,reason="`+r+`"}`, "0x20")
	}
	add(`inferprobe_gpu_ecc_errors_total{`+g+`,type="corrected"}`, "0x20")
	add(`inferprobe_gpu_process_memory_bytes{`+g+`,pid="4242",unit="vllm-0"}`, "71e9x20")
	for _, ty := range []string{"cuda", "sock", "proc"} {
		add(`inferprobe_agent_events_total{`+a+`,type="`+ty+`"}`, "0+10000x20")
	}
	add(`inferprobe_agent_dropped_events_total{`+a+`}`, "0x20")
	add(`inferprobe_agent_tracked_processes{`+a+`}`, "3x20")
	add(`inferprobe_agent_attached_processes{`+a+`}`, "2x20")
	add(`inferprobe_agent_attach_errors_total{`+a+`}`, "0x20")
	add(`inferprobe_build_info{`+a+`,version="0.1.0",revision="abc",goversion="go1.26"}`, "1x20")
	add(`up{`+a+`}`, "1x20")
	return s
}

// TestDashboardQueriesReturnData evaluates every dashboard query and variable with
// promtool on a healthy node's series: each must parse and return at least one sample,
// so that no panel is silently empty when nothing is wrong.
func TestDashboardQueriesReturnData(t *testing.T) {
	promtool(t)
	qs, err := DashboardQueries(loadDashboard(t), "5m")
	if err != nil {
		t.Fatal(err)
	}
	var rules, tests []map[string]any
	for i, q := range qs {
		name := fmt.Sprintf("Q%03d", i)
		rules = append(rules, map[string]any{"alert": name, "expr": "count(" + q.Expr + ") > 0"})
		tests = append(tests, map[string]any{"alertname": name, "eval_time": "10m",
			"exp_alerts": []map[string]any{{"exp_labels": map[string]string{}}}})
	}
	dir := t.TempDir()
	ruleFile, _ := json.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	testFile, _ := json.Marshal(map[string]any{
		"rule_files": []string{"dashboard-rules.yml"}, "evaluation_interval": "1m",
		"tests": []any{map[string]any{"interval": "1m", "input_series": healthySeries(), "alert_rule_test": tests}},
	})
	if err := os.WriteFile(filepath.Join(dir, "dashboard-rules.yml"), ruleFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-test.yml"), testFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, dir, "check", "rules", "dashboard-rules.yml"); err != nil {
		t.Fatalf("a dashboard query does not parse: %v\n%s", err, out)
	}
	out, err := runPromtool(t, dir, "test", "rules", "dashboard-test.yml")
	if err == nil {
		if len(qs) < 50 {
			t.Errorf("%d queries evaluated, want the dashboard's 50 or more", len(qs))
		}
		return
	}
	for i, q := range qs {
		if strings.Contains(out, fmt.Sprintf("alertname: Q%03d,", i)) {
			t.Errorf("%s %q returns nothing on a healthy node: %s", q.Source, q.Title, q.Expr)
		}
	}
	t.Fatalf("promtool test rules: %v\n%s", err, out)
}

func TestVariableQuery(t *testing.T) {
	cases := map[string]string{
		`label_values(inferprobe_requests_waiting{node=~"$node"}, namespace)`: `count by (namespace) (inferprobe_requests_waiting{node=~"$node"})`,
		`label_values(up, job)`: `count by (job) (up)`,
	}
	for in, want := range cases {
		if got, err := VariableQuery(in); err != nil || got != want {
			t.Errorf("VariableQuery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"query_result(up)", "label_values(up)", ""} {
		if _, err := VariableQuery(bad); err == nil {
			t.Errorf("VariableQuery(%q): no error", bad)
		}
	}
	if got := Substitute(`rate(x{unit=~"$unit", gpu=~"${gpu}"}[$__rate_interval])`, "5m"); got != `rate(x{unit=~".*", gpu=~".*"}[5m])` {
		t.Errorf("Substitute: %q", got)
	}
}
