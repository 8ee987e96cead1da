package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

// promtool returns the promtool binary, or skips: it comes with Debian's prometheus
// package (apt-get install prometheus), which CI installs.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func ruleTestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), RuleTestsDir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in %s: %v", RuleTestsDir, err)
	}
	return files
}

func loadRules(t *testing.T) monitoringv1.PrometheusRuleSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(b, &spec); err != nil {
		t.Fatalf("%s: %v", RulesFile, err)
	}
	return spec
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := runPromtool(t, root(t), "check", "rules", RulesFile)
	if err != nil || !strings.Contains(out, "SUCCESS: 24 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	r := root(t)
	args := []string{"test", "rules"}
	for _, f := range ruleTestFiles(t) {
		rel, _ := filepath.Rel(r, f)
		args = append(args, rel)
	}
	out, err := runPromtool(t, r, args...)
	if err != nil || strings.Contains(out, "FAILED") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if n := strings.Count(out, "SUCCESS"); n != len(args)-2 {
		t.Errorf("%d of %d test files succeeded:\n%s", n, len(args)-2, out)
	}
}

// ruleTests is the part of promtool's test file format the coverage check reads.
type ruleTests struct {
	Tests []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr       string `json:"expr"`
			ExpSamples []any  `json:"exp_samples"`
		} `json:"promql_expr_test"`
	} `json:"tests"`
}

// TestEveryRuleIsTested checks that the unit tests cover every alert both firing and not
// firing, and every recording rule with expected samples.
func TestEveryRuleIsTested(t *testing.T) {
	firing, quiet, recorded := map[string]int{}, map[string]int{}, map[string]int{}
	for _, f := range ruleTestFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rt ruleTests
		if err := yaml.Unmarshal(b, &rt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range rt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname]++
				} else {
					quiet[a.Alertname]++
				}
			}
			for _, e := range tc.PromQLExprTest {
				if len(e.ExpSamples) > 0 {
					recorded[e.Expr]++
				}
			}
		}
	}
	rules := 0
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			rules++
			switch {
			case r.Alert != "":
				if firing[r.Alert] == 0 || quiet[r.Alert] == 0 {
					t.Errorf("%s: %d firing and %d not-firing unit tests, want at least one of each", r.Alert, firing[r.Alert], quiet[r.Alert])
				}
				delete(firing, r.Alert)
				delete(quiet, r.Alert)
			case recorded[r.Record] == 0:
				t.Errorf("recording rule %s has no promql_expr_test with samples", r.Record)
			}
		}
	}
	for a := range firing {
		t.Errorf("unit tests expect alert %s, which no rule defines", a)
	}
	for a := range quiet {
		t.Errorf("unit tests name alert %s, which no rule defines", a)
	}
	if rules != 24 {
		t.Errorf("%d rules, want 24", rules)
	}
}

// headingAnchors returns the GitHub anchors of a markdown file's headings.
func headingAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		a := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")
		anchors[a] = true
	}
	return anchors
}

// TestAlertsHaveRunbooks checks every alert's labels and annotations, and that its
// runbook anchor is a heading of docs/operations.md.
func TestAlertsHaveRunbooks(t *testing.T) {
	r := root(t)
	anchors := headingAnchors(t, filepath.Join(r, OperationsDoc))
	for _, g := range loadRules(t).Groups {
		for _, rule := range g.Rules {
			if rule.Alert == "" {
				continue
			}
			if !strings.HasPrefix(rule.Alert, "Inferprobe") {
				t.Errorf("%s: alert names start with Inferprobe", rule.Alert)
			}
			if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", rule.Alert, s)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(rule.Annotations[k]) == "" {
					t.Errorf("%s: no %s", rule.Alert, k)
				}
			}
			url := rule.Annotations["runbook_url"]
			base, anchor, _ := strings.Cut(url, "#")
			if !strings.HasSuffix(base, "/"+OperationsDoc) || anchor != strings.ToLower(rule.Alert) {
				t.Errorf("%s: runbook_url %q, want .../%s#%s", rule.Alert, url, OperationsDoc, strings.ToLower(rule.Alert))
			}
			if !anchors[anchor] {
				t.Errorf("%s: %s has no heading for #%s", rule.Alert, OperationsDoc, anchor)
			}
		}
	}
}

var metricRE = regexp.MustCompile(`\binferprobe_[a-z0-9_]+`)

// documentedMetrics returns the metric names docs/metrics.md lists.
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), MetricsDoc))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, n := range metricRE.FindAllString(string(b), -1) {
		m[n] = true
	}
	return m
}

// checkMetricNames fails for each inferprobe_ metric in expr (less a histogram's
// _bucket, _sum or _count) that docs/metrics.md does not list.
func checkMetricNames(t *testing.T, where, expr string, doc map[string]bool) {
	t.Helper()
	for _, n := range metricRE.FindAllString(expr, -1) {
		base := n
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, s); ok && doc[b] {
				base = b
			}
		}
		if !doc[base] {
			t.Errorf("%s: metric %s is not in %s", where, n, MetricsDoc)
		}
	}
}

func TestRulesUseDocumentedMetrics(t *testing.T) {
	doc := documentedMetrics(t)
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			checkMetricNames(t, r.Alert+r.Record, r.Expr.String(), doc)
		}
	}
}

// TestUnitTestsCatchThresholdChanges renders the rules with one threshold moved at a time
// and expects promtool's unit tests to fail: each threshold is pinned by a test.
func TestUnitTestsCatchThresholdChanges(t *testing.T) {
	promtool(t)
	ch := loadChart(t)
	// threshold moved -> values, and the unit test file that pins it.
	moved := map[string][2]string{
		"ttftP95Seconds 5":       {"alerts: {slo: {ttftP95Seconds: 5}}", "requests_test.yml"},
		"ttftP99Seconds 10":      {"alerts: {slo: {ttftP99Seconds: 10}}", "requests_test.yml"},
		"tpotP95Seconds 0.2":     {"alerts: {slo: {tpotP95Seconds: 0.2}}", "requests_test.yml"},
		"tpotP99Seconds 0.5":     {"alerts: {slo: {tpotP99Seconds: 0.5}}", "requests_test.yml"},
		"slo for 10m":            {"alerts: {slo: {for: 10m}}", "requests_test.yml"},
		"queueDepth 12":          {"alerts: {queueDepth: 12}", "requests_test.yml"},
		"rateLimitedPerSecond 2": {"alerts: {rateLimitedPerSecond: 2}", "requests_test.yml"},
		"contextLength 0.1":      {"alerts: {contextLengthPerSecond: 0.1}", "requests_test.yml"},
		"oomPerRequest 0.002":    {"alerts: {oomPerRequest: 0.002}", "cuda_test.yml"},
		"gpuWaitSeconds 31":      {"alerts: {gpuWaitSeconds: 31}", "cuda_test.yml"},
		"vramUsedRatio 0.99":     {"alerts: {vramUsedRatio: 0.99}", "gpu_test.yml"},
		"temperatureCelsius 84":  {"alerts: {temperatureCelsius: 84}", "gpu_test.yml"},
		"throttleFor 2m":         {"alerts: {throttleFor: 2m}", "gpu_test.yml"},
		"dropped 2/s":            {"alerts: {droppedEventsPerSecond: 2}", "agent_test.yml"},
		"job other":              {"alerts: {job: other}", "agent_test.yml"},
		"lostTargetsFor 15m":     {"alerts: {lostTargetsFor: 15m}", "agent_test.yml"},
	}
	names := make([]string, 0, len(moved))
	for n := range moved {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		values, testFile := moved[name][0], moved[name][1]
		rendered, err := Render(ch, "prometheusRule: {enabled: true}\n"+values+"\n", DefaultRelease)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rules, err := RulesFromPrometheusRule(rendered.Files["templates/prometheusrule.yaml"])
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "tests"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "inferprobe-rules.yml"), []byte(rules), 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root(t), RuleTestsDir, testFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tests", testFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"test", "rules", filepath.Join("tests", testFile)}
		if out, err := runPromtool(t, dir, "check", "rules", "inferprobe-rules.yml"); err != nil {
			t.Errorf("%s: the rendered rules do not pass promtool check: %v\n%s", name, err, out)
			continue
		}
		if out, err := runPromtool(t, dir, args...); err == nil {
			t.Errorf("%s: the unit tests still pass with the threshold moved:\n%s", name, out)
		}
	}
}
