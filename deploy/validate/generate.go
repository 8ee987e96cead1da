package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// generatedHeader starts every generated YAML file.
const generatedHeader = "# Generated from the Helm chart " + ChartDir + " with its default values by\n" +
	"# `cd deploy/validate && go generate`. Edit the chart, not this file.\n"

// plainValues are the values the plain manifests are rendered with: the chart's defaults,
// plus the objects a chart install leaves to helm or to other values.
const plainValues = `
createNamespace: true
serviceMonitor: {enabled: true}
prometheusRule: {enabled: true}
`

// PlainRelease is the release the plain manifests are rendered for: Kubernetes 1.30 is
// the oldest version with the securityContext.appArmorProfile field they use.
var PlainRelease = Release{Name: "inferprobe", Namespace: "inferprobe", KubeVersion: "v1.30.0", Service: "kubectl"}

// Generate returns every generated file of the kit by its path from the repository root:
// the plain manifests, the plain rules file and the chart's copy of the dashboard.
func Generate(root string) (map[string][]byte, error) {
	ch, err := LoadChart(filepath.Join(root, ChartDir))
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}

	// The chart's copy of the dashboard comes first: the chart is loaded with the copy that
	// is on disk, and the ConfigMap is not part of the plain manifests.
	dash, err := os.ReadFile(filepath.Join(root, DashboardFile))
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	out[ChartDashboard] = dash

	r, err := Render(ch, plainValues, PlainRelease)
	if err != nil {
		return nil, fmt.Errorf("plain manifests: %w", err)
	}
	withPod, err := Render(ch, "podMonitor: {enabled: true}\n", PlainRelease)
	if err != nil {
		return nil, fmt.Errorf("plain podmonitor: %w", err)
	}
	r.Files["templates/podmonitor.yaml"] = withPod.Files["templates/podmonitor.yaml"]
	for _, p := range r.Paths() {
		text := r.Files[p]
		if text == "" {
			return nil, fmt.Errorf("plain manifests: %s rendered empty", p)
		}
		out[filepath.ToSlash(filepath.Join(ManifestsDir, filepath.Base(p)))] = []byte(generatedHeader + strings.TrimLeft(text, "\n"))
	}

	rules, err := RulesFromPrometheusRule(r.Files["templates/prometheusrule.yaml"])
	if err != nil {
		return nil, err
	}
	out[RulesFile] = []byte(strings.Replace(generatedHeader, "Helm chart "+ChartDir,
		"PrometheusRule of the Helm chart "+ChartDir+" (templates/_rules.tpl)", 1) +
		"# To change a threshold, set alerts.* in the chart's values (or edit the number here).\n" + rules)
	return out, nil
}

// RulesFromPrometheusRule turns a rendered PrometheusRule into a Prometheus rules file:
// its spec, one level less indented.
func RulesFromPrometheusRule(text string) (string, error) {
	_, spec, ok := strings.Cut(text, "\nspec:\n")
	if !ok {
		return "", fmt.Errorf("prometheusrule: no spec in %q", firstLine(text))
	}
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimRight(spec, "\n"), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			b.WriteString("\n")
		case strings.HasPrefix(line, "  "):
			b.WriteString(line[2:] + "\n")
		default:
			return "", fmt.Errorf("prometheusrule: spec line %q is not indented", line)
		}
	}
	return strings.TrimLeft(b.String(), "\n"), nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// WriteGenerated writes the generated files under root.
func WriteGenerated(root string, files map[string][]byte) error {
	for p, b := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
