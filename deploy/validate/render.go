package validate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Paths of the kit, relative to the repository root.
const (
	ChartDir       = "deploy/helm/inferprobe"
	ManifestsDir   = "deploy/kubernetes"
	RulesFile      = "deploy/prometheus/inferprobe-rules.yml"
	RuleTestsDir   = "deploy/prometheus/tests"
	DashboardFile  = "deploy/grafana/inferprobe.json"
	ChartDashboard = ChartDir + "/files/inferprobe.json"
	OperationsDoc  = "docs/operations.md"
	MetricsDoc     = "docs/metrics.md"
)

// Root finds the repository root: the nearest directory at or above the working
// directory that holds the chart.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ChartDir, "Chart.yaml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no repository root with " + ChartDir + " above the working directory")
		}
		dir = parent
	}
}

// Release is what a render is for: Helm's release name and namespace, the cluster's
// Kubernetes version, and who manages the objects ("Helm", or "kubectl" for the plain
// manifests).
type Release struct {
	Name, Namespace string
	KubeVersion     string
	Service         string
}

// DefaultRelease is the release the plain manifests and most tests render.
var DefaultRelease = Release{Name: "inferprobe", Namespace: "inferprobe", KubeVersion: "v1.33.0", Service: "Helm"}

// Rendered is one render of the chart: each template's output by its path in the chart
// (templates/daemonset.yaml), without the templates that rendered to nothing, and NOTES.txt.
type Rendered struct {
	Files map[string]string
	Notes string
}

// Paths returns the rendered templates' paths, sorted.
func (r Rendered) Paths() []string {
	ps := make([]string, 0, len(r.Files))
	for p := range r.Files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// LoadChart loads the chart directory with Helm's loader (Chart.yaml, values.yaml,
// values.schema.json, templates, files; .helmignore applies).
func LoadChart(dir string) (*chart.Chart, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return ch, nil
}

// Render renders ch as `helm template` would: values is YAML merged over the chart's
// values.yaml and checked against its values.schema.json, and the chart's kubeVersion
// constraint is checked against rel.KubeVersion.
func Render(ch *chart.Chart, values string, rel Release) (Rendered, error) {
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		return Rendered{}, fmt.Errorf("values: %w", err)
	}
	if c := ch.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, rel.KubeVersion) {
		return Rendered{}, fmt.Errorf("chart requires kubeVersion %s, release is for %s", c, rel.KubeVersion)
	}
	kv, err := chartutil.ParseKubeVersion(rel.KubeVersion)
	if err != nil {
		return Rendered{}, fmt.Errorf("kube version %q: %w", rel.KubeVersion, err)
	}
	caps := *chartutil.DefaultCapabilities
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValues(ch, vals,
		chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true}, &caps)
	if err != nil {
		return Rendered{}, err
	}
	if rel.Service != "" {
		top["Release"].(map[string]any)["Service"] = rel.Service
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		return Rendered{}, fmt.Errorf("render: %w", err)
	}
	r := Rendered{Files: map[string]string{}}
	prefix := ch.Name() + "/"
	for name, text := range out {
		rel := strings.TrimPrefix(name, prefix)
		switch {
		case path.Base(rel) == "NOTES.txt":
			r.Notes = text
		case strings.TrimSpace(text) != "":
			r.Files[rel] = text
		}
	}
	return r, nil
}
