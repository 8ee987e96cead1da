package validate

import (
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestChartServiceMonitor(t *testing.T) {
	_, off := render(t, "serviceMonitor: {enabled: false}\n", DefaultRelease)
	for _, o := range off {
		if o.GVK.Group == monitoringv1.SchemeGroupVersion.Group {
			t.Errorf("serviceMonitor off still renders %s", o.GVK.Kind)
		}
	}
	_, objs := render(t, "serviceMonitor: {enabled: true}\n", DefaultRelease)
	sm := find[*monitoringv1.ServiceMonitor](t, objs)
	svc := find[*corev1.Service](t, objs)
	sel, err := metav1LabelSelector(sm.Spec.Selector.MatchLabels)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("ServiceMonitor selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != svc.Spec.Ports[0].Name || ep.Path != "/metrics" || !ep.HonorLabels {
		t.Errorf("endpoint port %q path %q honorLabels %v, want %q /metrics true", ep.Port, ep.Path, ep.HonorLabels, svc.Spec.Ports[0].Name)
	}
	checkRelabelings(t, ep.RelabelConfigs, "(namespace|pod|container|service|endpoint)")
	if sm.Spec.JobLabel != "app.kubernetes.io/name" || svc.Labels[sm.Spec.JobLabel] != "inferprobe" {
		t.Errorf("job label from %q = %q, want inferprobe (the alerts' job)", sm.Spec.JobLabel, svc.Labels[sm.Spec.JobLabel])
	}
	if sm.Spec.ScrapeClassicHistograms == nil || !*sm.Spec.ScrapeClassicHistograms {
		t.Error("scrapeClassicHistograms is not on: the rules read _bucket series")
	}

	if _, err := Render(loadChart(t), "serviceMonitor: {enabled: true}\npodMonitor: {enabled: true}\n", DefaultRelease); err == nil ||
		!strings.Contains(err.Error(), "not both") {
		t.Errorf("both monitors: %v, want a refusal", err)
	}
	if _, err := Render(loadChart(t), "serviceMonitor: {enabled: true}\nservice: {enabled: false}\n", DefaultRelease); err == nil ||
		!strings.Contains(err.Error(), "service.enabled") {
		t.Errorf("ServiceMonitor without a Service: %v, want a refusal", err)
	}
}

func metav1LabelSelector(m map[string]string) (labels.Selector, error) {
	return labels.ValidatedSelectorFromSet(m)
}

// checkRelabelings asserts the monitor adds node and drops the target labels that would
// clash with the metrics' own namespace, pod and container (dropRegex).
func checkRelabelings(t *testing.T, rcs []monitoringv1.RelabelConfig, dropRegex string) {
	t.Helper()
	var node, drop bool
	for _, rc := range rcs {
		if rc.TargetLabel == "node" && slices.Equal(rc.SourceLabels, []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}) {
			node = true
		}
		if rc.Action == "labeldrop" && rc.Regex == dropRegex {
			drop = true
		}
	}
	if !node || !drop {
		t.Errorf("relabelings %+v: node added %v, %s dropped %v", rcs, node, dropRegex, drop)
	}
}

func TestChartPodMonitor(t *testing.T) {
	_, objs := render(t, "podMonitor: {enabled: true}\n", DefaultRelease)
	pm := find[*monitoringv1.PodMonitor](t, objs)
	ds := find[*appsv1.DaemonSet](t, objs)
	sel, err := metav1LabelSelector(pm.Spec.Selector.MatchLabels)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("PodMonitor selector %v does not select the pods %v", pm.Spec.Selector.MatchLabels, ds.Spec.Template.Labels)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Port == nil || *ep.Port != agentContainer(t, ds).Ports[0].Name || !ep.HonorLabels {
		t.Errorf("endpoint port %v honorLabels %v, want the container's metrics port and true", ep.Port, ep.HonorLabels)
	}
	checkRelabelings(t, ep.RelabelConfigs, "(namespace|pod|container|endpoint)")
	if pm.Spec.JobLabel != "app.kubernetes.io/name" || ds.Spec.Template.Labels[pm.Spec.JobLabel] != "inferprobe" {
		t.Errorf("job label from %q, want the pods' app.kubernetes.io/name", pm.Spec.JobLabel)
	}
}

// TestChartSecuredEndpoint renders the TLS and basic-auth setup: the agent reads the web
// config from the secret, and the ServiceMonitor scrapes over https with credentials in
// the Operator's own types.
func TestChartSecuredEndpoint(t *testing.T) {
	values := `
webConfig: {secretName: inferprobe-web}
serviceMonitor:
  enabled: true
  scheme: https
  tlsConfig:
    serverName: inferprobe
    ca: {secret: {name: inferprobe-web, key: ca.crt}}
  basicAuth:
    username: {name: inferprobe-scrape, key: username}
    password: {name: inferprobe-scrape, key: password}
`
	_, objs := render(t, values, DefaultRelease)
	ds := find[*appsv1.DaemonSet](t, objs)
	c := agentContainer(t, ds)
	if !slices.Contains(c.Args, "--web.config.file=/etc/inferprobe/web/web-config.yml") {
		t.Errorf("args %q lack the web config file", c.Args)
	}
	var secret *corev1.Volume
	for i, v := range ds.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			secret = &ds.Spec.Template.Spec.Volumes[i]
		}
	}
	if secret == nil || secret.Secret.SecretName != "inferprobe-web" || secret.Secret.DefaultMode == nil || *secret.Secret.DefaultMode != 0o400 {
		t.Fatalf("web config secret volume %+v, want inferprobe-web mode 0400", secret)
	}
	checkMounts(t, ds.Spec.Template.Spec, c, hostMounts, secret.Name)
	ep := find[*monitoringv1.ServiceMonitor](t, objs).Spec.Endpoints[0]
	if ep.Scheme == nil || ep.Scheme.String() != "https" || ep.TLSConfig == nil || ep.TLSConfig.CA.Secret == nil ||
		ep.TLSConfig.CA.Secret.Key != "ca.crt" || ep.BasicAuth == nil || ep.BasicAuth.Password.Key != "password" {
		t.Errorf("endpoint %+v, want https with the CA and basic auth", ep)
	}
}
