package validate

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"helm.sh/helm/v3/pkg/chart"
)

// wantCaps is the exact capability list the agent runs with by default.
var wantCaps = []corev1.Capability{"BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"}

// hostMounts are the host paths the default agent mounts, and where.
var hostMounts = map[string]string{
	"/proc":               "/host/proc",
	"/sys/kernel/btf":     "/sys/kernel/btf",
	"/sys/kernel/tracing": "/sys/kernel/tracing",
	"/var/log/pods":       "/var/log/pods",
	"/var/log/containers": "/var/log/containers",
}

func root(t *testing.T) string {
	t.Helper()
	r, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := LoadChart(filepath.Join(root(t), ChartDir))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// render renders and strictly decodes the chart, failing the test on any error.
func render(t *testing.T, values string, rel Release) (Rendered, []Object) {
	t.Helper()
	r, err := Render(loadChart(t), values, rel)
	if err != nil {
		t.Fatalf("render with values %q: %v", values, err)
	}
	objs, err := DecodeRendered(r)
	if err != nil {
		t.Fatalf("values %q: %v", values, err)
	}
	return r, objs
}

func kinds(objs []Object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.GVK.Kind)
	}
	sort.Strings(ks)
	return ks
}

func find[T any](t *testing.T, objs []Object) T {
	t.Helper()
	var zero T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			return v
		}
	}
	t.Fatalf("no %T among %v", zero, kinds(objs))
	return zero
}

func agentContainer(t *testing.T, ds *appsv1.DaemonSet) corev1.Container {
	t.Helper()
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", n)
	}
	return ds.Spec.Template.Spec.Containers[0]
}

func TestChartDefaults(t *testing.T) {
	r, objs := render(t, "", DefaultRelease)
	if got, want := kinds(objs), []string{"DaemonSet", "Service", "ServiceAccount"}; !slices.Equal(got, want) {
		t.Fatalf("default objects %v, want %v", got, want)
	}
	if !strings.Contains(r.Notes, "kubectl -n inferprobe get pods") {
		t.Errorf("NOTES.txt did not render the pod listing: %q", r.Notes)
	}
	ds := find[*appsv1.DaemonSet](t, objs)
	pod := ds.Spec.Template.Spec
	if !pod.HostPID || pod.HostNetwork || pod.HostIPC {
		t.Errorf("hostPID %v hostNetwork %v hostIPC %v, want true false false", pod.HostPID, pod.HostNetwork, pod.HostIPC)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; the agent calls no API")
	}
	if got := pod.NodeSelector["nvidia.com/gpu.present"]; got != "true" {
		t.Errorf("node selector nvidia.com/gpu.present=%q, want true", got)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "nvidia.com/gpu" ||
		pod.Tolerations[0].Operator != corev1.TolerationOpExists || pod.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("tolerations %+v, want nvidia.com/gpu Exists NoSchedule", pod.Tolerations)
	}

	c := agentContainer(t, ds)
	if c.Image != "ghcr.io/inferprobe/inferprobe:0.1.0" {
		t.Errorf("image %q, want the chart's appVersion", c.Image)
	}
	wantArgs := []string{"agent", "--web.listen-address=:9477", "--web.telemetry-path=/metrics",
		"--path.procfs=/host/proc", "--path.pod-logs=/var/log/pods", "--collector.gpu.interval=5s"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9477 || c.Ports[0].Name != "metrics" {
		t.Errorf("ports %+v, want metrics 9477", c.Ports)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("a CPU limit throttles the ring-buffer reader; the chart sets none")
	}
	if mem := c.Resources.Limits[corev1.ResourceMemory]; mem.String() != "512Mi" {
		t.Errorf("memory limit %s, want 512Mi", mem.String())
	}
	var gomem *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "GOMEMLIMIT" {
			gomem = &c.Env[i]
		}
	}
	if gomem == nil || gomem.ValueFrom == nil || gomem.ValueFrom.ResourceFieldRef == nil ||
		gomem.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("GOMEMLIMIT %+v, want it from limits.memory", gomem)
	}

	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("privileged by default")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("root filesystem is writable")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities drop %+v, want [ALL]", sc.Capabilities)
	} else if !slices.Equal(sc.Capabilities.Add, wantCaps) {
		t.Errorf("capabilities add %v, want exactly %v", sc.Capabilities.Add, wantCaps)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccomp %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if sc.AppArmorProfile == nil || sc.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined {
		t.Errorf("appArmorProfile %+v, want Unconfined (field, Kubernetes 1.33)", sc.AppArmorProfile)
	}
	if _, ok := ds.Spec.Template.Annotations["container.apparmor.security.beta.kubernetes.io/inferprobe"]; ok {
		t.Error("AppArmor annotation rendered on Kubernetes 1.33, where the field applies")
	}
	checkMounts(t, pod, c, hostMounts)

	// The Service selects the agent's pods and names its port.
	svc := find[*corev1.Service](t, objs)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Errorf("service selector %v does not select the pods %v", svc.Spec.Selector, ds.Spec.Template.Labels)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Ports) != 1 ||
		svc.Spec.Ports[0].TargetPort.StrVal != "metrics" || svc.Spec.Ports[0].Port != 9477 {
		t.Errorf("service %+v, want headless, port 9477 to metrics", svc.Spec)
	}
	sa := find[*corev1.ServiceAccount](t, objs)
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken || sa.Name != pod.ServiceAccountName {
		t.Errorf("service account %s automount %v; pod uses %s", sa.Name, sa.AutomountServiceAccountToken, pod.ServiceAccountName)
	}
	if !labels.SelectorFromSet(ds.Spec.Selector.MatchLabels).Matches(labels.Set(ds.Spec.Template.Labels)) {
		t.Error("the DaemonSet's selector does not select its own pods")
	}
}

// checkMounts asserts that the pod mounts exactly the host paths in want (host -> mount
// path), every one read-only, and no other volume but the ones listed in extra.
func checkMounts(t *testing.T, pod corev1.PodSpec, c corev1.Container, want map[string]string, extra ...string) {
	t.Helper()
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
	}
	seen := map[string]bool{}
	for _, v := range pod.Volumes {
		m, ok := mounts[v.Name]
		if !ok {
			t.Errorf("volume %s is not mounted", v.Name)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("volume %s is mounted read-write at %s", v.Name, m.MountPath)
		}
		if v.HostPath == nil {
			if !slices.Contains(extra, v.Name) {
				t.Errorf("unexpected volume %s", v.Name)
			}
			continue
		}
		at, ok := want[v.HostPath.Path]
		if !ok {
			t.Errorf("unexpected host path %s (volume %s)", v.HostPath.Path, v.Name)
			continue
		}
		if m.MountPath != at {
			t.Errorf("host %s mounted at %s, want %s", v.HostPath.Path, m.MountPath, at)
		}
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			t.Errorf("host %s has mount propagation %s", v.HostPath.Path, *m.MountPropagation)
		}
		seen[v.HostPath.Path] = true
	}
	for h := range want {
		if !seen[h] {
			t.Errorf("host path %s is not mounted", h)
		}
	}
	if len(mounts) != len(pod.Volumes) {
		t.Errorf("%d mounts for %d volumes", len(mounts), len(pod.Volumes))
	}
}

func TestChartPrivilegedFallback(t *testing.T) {
	_, objs := render(t, "securityContext: {privileged: true}\n", DefaultRelease)
	ds := find[*appsv1.DaemonSet](t, objs)
	sc := agentContainer(t, ds).SecurityContext
	if sc.Privileged == nil || !*sc.Privileged {
		t.Fatal("securityContext.privileged=true did not make the container privileged")
	}
	// Kubernetes refuses privileged with allowPrivilegeEscalation false.
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		t.Error("privileged with allowPrivilegeEscalation false is invalid")
	}
	if sc.Capabilities != nil || sc.SeccompProfile != nil || sc.AppArmorProfile != nil {
		t.Errorf("privileged container still lists capabilities/seccomp/AppArmor: %+v", sc)
	}
	checkMounts(t, ds.Spec.Template.Spec, agentContainer(t, ds), hostMounts)
}

func TestChartOlderKubernetesUsesAppArmorAnnotation(t *testing.T) {
	rel := DefaultRelease
	rel.KubeVersion = "v1.29.4"
	_, objs := render(t, "", rel)
	ds := find[*appsv1.DaemonSet](t, objs)
	if got := ds.Spec.Template.Annotations["container.apparmor.security.beta.kubernetes.io/inferprobe"]; got != "unconfined" {
		t.Errorf("AppArmor annotation %q on 1.29, want unconfined", got)
	}
	if sc := agentContainer(t, ds).SecurityContext; sc.AppArmorProfile != nil {
		t.Error("appArmorProfile field rendered for Kubernetes 1.29, which does not know it")
	}
	rel.KubeVersion = "v1.24.0"
	if _, err := Render(loadChart(t), "", rel); err == nil || !strings.Contains(err.Error(), "kubeVersion") {
		t.Errorf("render for Kubernetes 1.24: %v, want a kubeVersion error", err)
	}
}

// TestChartVariantsDecode renders the other switches operators flip and decodes them.
func TestChartVariantsDecode(t *testing.T) {
	variants := []string{
		"createNamespace: true\n",
		"serviceAccount: {create: false, name: custom}\n",
		"image: {digest: \"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n",
		"nvml: {runtimeClassName: nvidia, libraryPath: /run/nvidia/driver/usr/lib64/libnvidia-ml.so.1, driverRoot: /run/nvidia/driver}\n",
		"hostPaths: {cgroup: {enabled: true}, tracefs: {readOnly: false}}\n",
		"securityContext: {extraCapabilities: [CHECKPOINT_RESTORE], seccompProfile: {type: Unconfined}}\n",
		"priorityClassName: system-node-critical\nnodeSelector: {}\ntolerations: []\nagent: {extraArgs: [--capture.launches=sample:16]}\n",
		"service: {enabled: false}\npodMonitor: {enabled: true}\n",
	}
	for _, v := range variants {
		_, objs := render(t, v, DefaultRelease)
		ds := find[*appsv1.DaemonSet](t, objs)
		c := agentContainer(t, ds)
		if v == variants[5] && !slices.Contains(c.SecurityContext.Capabilities.Add, "CHECKPOINT_RESTORE") {
			t.Errorf("extraCapabilities not added: %v", c.SecurityContext.Capabilities.Add)
		}
		if v == variants[3] {
			if ds.Spec.Template.Spec.RuntimeClassName == nil || *ds.Spec.Template.Spec.RuntimeClassName != "nvidia" ||
				!slices.Contains(c.Args, "--path.nvml=/run/nvidia/driver/usr/lib64/libnvidia-ml.so.1") {
				t.Errorf("nvml variant: runtimeClass %v args %q", ds.Spec.Template.Spec.RuntimeClassName, c.Args)
			}
			m := map[string]string{"/run/nvidia/driver": "/run/nvidia/driver"}
			for k, v := range hostMounts {
				m[k] = v
			}
			checkMounts(t, ds.Spec.Template.Spec, c, m)
		}
		if v == variants[4] {
			for _, m := range c.VolumeMounts {
				if m.Name == "tracefs" && m.ReadOnly {
					t.Error("tracefs readOnly: false still mounts read-only")
				}
			}
		}
	}
}

func TestChartLabelsAreConsistent(t *testing.T) {
	_, objs := render(t, "createNamespace: true\nserviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\ndashboard: {enabled: true}\n", DefaultRelease)
	for _, o := range objs {
		m := objectMeta(o)
		if m == nil {
			t.Fatalf("%s: no metadata", o.Source)
		}
		lbls := m.GetLabels()
		want := map[string]string{"app.kubernetes.io/name": "inferprobe", "app.kubernetes.io/instance": "inferprobe",
			"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "inferprobe-0.1.0"}
		for k, v := range want {
			if lbls[k] != v {
				t.Errorf("%s %s: label %s=%q, want %q", o.GVK.Kind, m.GetName(), k, lbls[k], v)
			}
		}
		if o.GVK.Kind != "Namespace" && m.GetNamespace() != "inferprobe" {
			t.Errorf("%s %s in namespace %q, want the release's", o.GVK.Kind, m.GetName(), m.GetNamespace())
		}
	}
}

func objectMeta(o Object) metav1.Object {
	m, err := meta.Accessor(o.Obj)
	if err != nil {
		return nil
	}
	return m
}
