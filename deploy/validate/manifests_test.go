package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestGeneratedFilesAreFresh fails when a generated file differs from what the chart
// renders now: run `go generate` in deploy/validate and commit the result.
func TestGeneratedFilesAreFresh(t *testing.T) {
	r := root(t)
	files, err := Generate(r)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(r, p))
		if err != nil {
			t.Errorf("%s: %v (run go generate in deploy/validate)", p, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate in deploy/validate", p)
		}
	}
	// Nothing in deploy/kubernetes that is neither generated nor the kustomization.
	ents, err := os.ReadDir(filepath.Join(r, ManifestsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := ManifestsDir + "/" + e.Name()
		if _, ok := files[p]; !ok && e.Name() != "kustomization.yaml" {
			t.Errorf("%s is not generated from the chart", p)
		}
	}
}

// plainManifests decodes every file in deploy/kubernetes but the kustomization.
func plainManifests(t *testing.T) map[string][]Object {
	t.Helper()
	dir := filepath.Join(root(t), ManifestsDir)
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Object{}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := Decode(filepath.Base(p), string(b))
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Errorf("%s holds %d objects, want 1", p, len(objs))
		}
		out[filepath.Base(p)] = objs
	}
	return out
}

func TestPlainManifests(t *testing.T) {
	m := plainManifests(t)
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"daemonset.yaml", "namespace.yaml", "podmonitor.yaml", "prometheusrule.yaml",
		"service.yaml", "serviceaccount.yaml", "servicemonitor.yaml"}
	if !slices.Equal(names, want) {
		t.Fatalf("plain manifests %v, want %v", names, want)
	}
	ds := find[*appsv1.DaemonSet](t, m["daemonset.yaml"])
	c := agentContainer(t, ds)
	sc := c.SecurityContext
	if !ds.Spec.Template.Spec.HostPID || sc.Privileged == nil || *sc.Privileged ||
		!slices.Equal(sc.Capabilities.Add, wantCaps) || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("plain DaemonSet: hostPID %v, securityContext %+v", ds.Spec.Template.Spec.HostPID, sc)
	}
	checkMounts(t, ds.Spec.Template.Spec, c, hostMounts)
	if ds.Labels["app.kubernetes.io/managed-by"] != "kubectl" || ds.Labels["helm.sh/chart"] != "" {
		t.Errorf("plain manifests carry Helm's labels: %v", ds.Labels)
	}
	ns := find[*corev1.Namespace](t, m["namespace.yaml"])
	if ns.Name != ds.Namespace || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s labels %v; DaemonSet in %s", ns.Name, ns.Labels, ds.Namespace)
	}
	find[*monitoringv1.ServiceMonitor](t, m["servicemonitor.yaml"])
	find[*monitoringv1.PodMonitor](t, m["podmonitor.yaml"])
	find[*monitoringv1.PrometheusRule](t, m["prometheusrule.yaml"])
}

func TestKustomizationListsExistingFiles(t *testing.T) {
	dir := filepath.Join(root(t), ManifestsDir)
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatal(err)
	}
	if k.Kind != "Kustomization" || len(k.Resources) != 4 {
		t.Errorf("kustomization %+v, want the four core resources", k)
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil || strings.Contains(r, "monitor") {
			t.Errorf("kustomization resource %s: %v (monitors need the Operator's CRDs and stay optional)", r, err)
		}
	}
}

// TestRulesFileMatchesPrometheusRule checks the two forms of the rules are one: the plain
// file's groups equal the PrometheusRule's spec, field for field.
func TestRulesFileMatchesPrometheusRule(t *testing.T) {
	r := root(t)
	plain, err := os.ReadFile(filepath.Join(r, RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var file monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(plain, &file); err != nil {
		t.Fatalf("%s: %v", RulesFile, err)
	}
	pr := find[*monitoringv1.PrometheusRule](t, plainManifests(t)["prometheusrule.yaml"])
	a, _ := yaml.Marshal(file)
	b, _ := yaml.Marshal(pr.Spec)
	if !bytes.Equal(a, b) {
		t.Errorf("%s and %s/prometheusrule.yaml differ:\n%s\n---\n%s", RulesFile, ManifestsDir, a, b)
	}
	if len(file.Groups) != 5 {
		t.Errorf("%d rule groups, want 5", len(file.Groups))
	}
}
