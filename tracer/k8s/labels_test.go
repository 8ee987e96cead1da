package k8s

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// id is the container id the fixture script gives a short name: its sha256.
func id(name string) string {
	s := sha256.Sum256([]byte(name))
	return hex.EncodeToString(s[:])
}

// us turns a pod UID into its systemd slice form.
func us(uid string) string { return strings.ReplaceAll(uid, "-", "_") }

const (
	vllmUID   = "3f2a7c1e-8b4d-4e6f-9a1b-2c3d4e5f6a7b"
	pluginUID = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a"
	etcdUID   = "5c8f3e9a1b2d4c6e8f0a1b3c5d7e9f01"
	sglangUID = "7b1e4c2a-0d3f-4a5b-9c8d-6e7f8a9b0c1d"
	soloUID   = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	tgiUID    = "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b"
)

func resolver(layout string) *Resolver {
	return &Resolver{PodLogs: filepath.Join("testdata", layout, "var/log/pods")}
}

func TestLabels(t *testing.T) {
	cases := []struct {
		name, layout, cgroup string
		want                 Labels
		inPod                bool
	}{
		// containerd, cgroup v2, systemd driver.
		{"containerd v2 systemd", "containerd",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us(vllmUID) + ".slice/cri-containerd-" + id("cd-vllm") + ".scope",
			Labels{"inference", "vllm-llama-0", "vllm", vllmUID, id("cd-vllm")}, true},
		// The same seen from the agent's own cgroup namespace.
		{"containerd v2 systemd, agent in a cgroup namespace", "containerd",
			"/../../kubepods-burstable.slice/kubepods-burstable-pod" + us(vllmUID) + ".slice/cri-containerd-" + id("cd-fetch") + ".scope",
			Labels{"inference", "vllm-llama-0", "model-fetch", vllmUID, id("cd-fetch")}, true},
		// containerd, cgroup v1, cgroupfs driver; the container before its restart.
		{"containerd v1 cgroupfs, previous restart", "containerd",
			"/kubepods/burstable/pod" + vllmUID + "/" + id("cd-vllm-old"),
			Labels{"inference", "vllm-llama-0", "vllm", vllmUID, id("cd-vllm-old")}, true},
		// containerd, cgroup v2, cgroupfs driver, guaranteed QoS (no QoS level).
		{"containerd v2 cgroupfs guaranteed", "containerd",
			"/kubepods/pod" + vllmUID + "/" + id("cd-vllm"),
			Labels{"inference", "vllm-llama-0", "vllm", vllmUID, id("cd-vllm")}, true},
		// No link for this container: the pod's only container directory names it.
		{"containerd single container without a link", "containerd",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us(pluginUID) + ".slice/cri-containerd-" + id("cd-plugin") + ".scope",
			Labels{"kube-system", "nvidia-device-plugin-daemonset-x7k2p", "nvidia-device-plugin-ctr", pluginUID, id("cd-plugin")}, true},
		// A static pod: 32-hex UID, cgroup v1 systemd driver.
		{"containerd static pod v1 systemd", "containerd",
			"/kubepods.slice/kubepods-pod" + etcdUID + ".slice/cri-containerd-" + id("cd-etcd") + ".scope",
			Labels{"kube-system", "etcd-gpu-node-1", "etcd", etcdUID, id("cd-etcd")}, true},
		// A pod-level cgroup (no container): the pod is named, the container is not.
		{"containerd pod cgroup only", "containerd",
			"/kubepods/burstable/pod" + vllmUID,
			Labels{Namespace: "inference", Pod: "vllm-llama-0", PodUID: vllmUID}, true},
		// CRI-O, cgroup v2, systemd driver.
		{"crio v2 systemd", "crio",
			"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us(sglangUID) + ".slice/crio-" + id("crio-sglang") + ".scope",
			Labels{"inference", "sglang-7d9f8b6c5-abcde", "sglang", sglangUID, id("crio-sglang")}, true},
		// CRI-O, cgroup v1, cgroupfs driver.
		{"crio v1 cgroupfs", "crio",
			"/kubepods/burstable/pod" + sglangUID + "/crio-" + id("crio-router"),
			Labels{"inference", "sglang-7d9f8b6c5-abcde", "router", sglangUID, id("crio-router")}, true},
		// The pod's directory is gone; the container link alone names everything.
		{"crio link without a pod directory", "crio",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us(soloUID) + ".slice/crio-" + id("crio-solo") + ".scope",
			Labels{"batch", "solo-job-xyz", "worker", soloUID, id("crio-solo")}, true},
		// A container cgroup without the pod level (a flat layout): the link gives the UID.
		{"crio container id only", "crio",
			"/crio-" + id("crio-sglang") + ".scope",
			Labels{"inference", "sglang-7d9f8b6c5-abcde", "sglang", sglangUID, id("crio-sglang")}, true},
		// docker through cri-dockerd, cgroup v1 cgroupfs: the restart log links to docker's file.
		{"docker v1 cgroupfs", "docker",
			"/kubepods/besteffort/pod" + tgiUID + "/" + id("dk-tgi"),
			Labels{"inference", "tgi-0", "tgi", tgiUID, id("dk-tgi")}, true},
		{"docker v2 systemd", "docker",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us(tgiUID) + ".slice/docker-" + id("dk-sidecar") + ".scope",
			Labels{"inference", "tgi-0", "metrics-sidecar", tgiUID, id("dk-sidecar")}, true},
		// A pod this node has no log directory for: only what the cgroup path says.
		{"unknown pod", "containerd",
			"/kubepods/burstable/pod11111111-2222-4333-8444-555555555555/" + id("nobody"),
			Labels{PodUID: "11111111-2222-4333-8444-555555555555", ContainerID: id("nobody")}, true},
		// Not in Kubernetes.
		{"plain docker container", "containerd",
			"/system.slice/docker-" + id("plain") + ".scope",
			Labels{ContainerID: id("plain")}, false},
		{"host process", "containerd", "/user.slice/user-1000.slice/session-3.scope", Labels{}, false},
		{"root cgroup", "containerd", "/", Labels{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, inPod := resolver(c.layout).Labels(c.cgroup)
			if got != c.want || inPod != c.inPod {
				t.Errorf("Labels(%q)\n got %+v, %v\nwant %+v, %v", c.cgroup, got, inPod, c.want, c.inPod)
			}
		})
	}
}

func TestRefreshReportsMissingDirectories(t *testing.T) {
	if err := resolver("containerd").Refresh(); err != nil {
		t.Errorf("containerd fixture: %v, want nil", err)
	}
	// The docker fixture has no /var/log/containers: an error naming it, labels still work.
	r := resolver("docker")
	err := r.Refresh()
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "container logs") {
		t.Errorf("docker fixture: %v, want a not-exist error about container logs", err)
	}
	if l, _ := r.Labels("/kubepods/besteffort/pod" + tgiUID + "/" + id("dk-tgi")); l.Container != "tgi" {
		t.Errorf("docker fixture after Refresh: container %q, want tgi", l.Container)
	}
	r = &Resolver{PodLogs: filepath.Join(t.TempDir(), "absent")}
	err = r.Refresh()
	if err == nil || !strings.Contains(err.Error(), "pod logs") || !strings.Contains(err.Error(), "container logs") {
		t.Errorf("absent directories: %v, want errors about both", err)
	}
	l, inPod := r.Labels("/kubepods/pod" + vllmUID + "/" + id("cd-vllm"))
	if want := (Labels{PodUID: vllmUID, ContainerID: id("cd-vllm")}); l != want || !inPod {
		t.Errorf("absent directories: %+v, %v, want %+v, true", l, inPod, want)
	}
}

func TestContainerLogsDefault(t *testing.T) {
	cases := map[string]string{
		"":                           "/var/log/containers",
		"/var/log/pods":              "/var/log/containers",
		"/host/var/log/pods/":        "/host/var/log/containers",
		"testdata/crio/var/log/pods": "testdata/crio/var/log/containers",
	}
	for podLogs, want := range cases {
		if got := (&Resolver{PodLogs: podLogs}).containerLogs(); got != want {
			t.Errorf("PodLogs %q: container logs %q, want %q", podLogs, got, want)
		}
	}
	if got := (&Resolver{ContainerLogs: "/x"}).containerLogs(); got != "/x" {
		t.Errorf("explicit ContainerLogs: %q, want /x", got)
	}
}

// copyTree copies a fixture tree, links as links, so a test can change it.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCacheTTLAndMiss checks when the resolver rescans: a new pod is found on its first
// lookup (a miss rescans), but not more often than MinRescan; a known pod's rename is
// seen only after the TTL.
func TestCacheTTLAndMiss(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/crio", root)
	now := time.Unix(1000, 0)
	r := &Resolver{PodLogs: filepath.Join(root, "var/log/pods"), TTL: time.Minute, MinRescan: 5 * time.Second,
		now: func() time.Time { return now }}
	sglang := "/kubepods/burstable/pod" + sglangUID + "/crio-" + id("crio-sglang")
	if l, _ := r.Labels(sglang); l.Pod != "sglang-7d9f8b6c5-abcde" {
		t.Fatalf("first lookup: pod %q, want sglang-7d9f8b6c5-abcde", l.Pod)
	}

	// A pod scheduled after the scan.
	newUID := "22222222-3333-4444-8555-666666666666"
	newID := id("crio-new")
	if err := os.MkdirAll(filepath.Join(root, "var/log/pods/inference_late-0_"+newUID+"/engine"), 0o755); err != nil {
		t.Fatal(err)
	}
	newCg := "/kubepods/burstable/pod" + newUID + "/crio-" + newID
	now = now.Add(2 * time.Second) // younger than MinRescan: the miss does not rescan
	if l, _ := r.Labels(newCg); l.Pod != "" {
		t.Errorf("miss within MinRescan: pod %q, want none yet", l.Pod)
	}
	now = now.Add(4 * time.Second) // 6 s after the scan: the miss rescans
	if l, _ := r.Labels(newCg); l.Pod != "late-0" || l.Container != "engine" || l.Namespace != "inference" {
		t.Errorf("miss after MinRescan: %+v, want inference/late-0/engine", l)
	}

	// A hit is served from the cache until the TTL, even if the directory changed.
	if err := os.RemoveAll(filepath.Join(root, "var/log/pods/inference_late-0_"+newUID)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	if l, _ := r.Labels(newCg); l.Pod != "late-0" {
		t.Errorf("hit within the TTL: pod %q, want the cached late-0", l.Pod)
	}
	now = now.Add(31 * time.Second) // past the TTL: rescanned, the pod is gone
	if l, inPod := r.Labels(newCg); l.Pod != "" || !inPod || l.PodUID != newUID {
		t.Errorf("after the TTL: %+v, %v, want only the UID and true", l, inPod)
	}
}

func TestParsePodDir(t *testing.T) {
	cases := []struct {
		in           string
		ns, pod, uid string
		ok           bool
	}{
		{"default_web-0_" + vllmUID, "default", "web-0", vllmUID, true},
		{"kube-system_etcd-a_" + etcdUID, "kube-system", "etcd-a", etcdUID, true},
		{"default_web-0_not-a-uid", "", "", "", false},
		{"default_web_0_" + vllmUID, "", "", "", false},
		{vllmUID, "", "", "", false},
		{"_web-0_" + vllmUID, "", "", "", false},
		{"default__" + vllmUID, "", "", "", false},
		{"default_web-0_" + strings.ToUpper(vllmUID), "", "", "", false},
	}
	for _, c := range cases {
		ns, pod, uid, ok := parsePodDir(c.in)
		if ns != c.ns || pod != c.pod || uid != c.uid || ok != c.ok {
			t.Errorf("parsePodDir(%q) = %q %q %q %v, want %q %q %q %v", c.in, ns, pod, uid, ok, c.ns, c.pod, c.uid, c.ok)
		}
	}
}

func TestIDInPath(t *testing.T) {
	x := id("x")
	cases := map[string]string{
		"/var/lib/docker/containers/" + x + "/" + x + "-json.log": x,
		"/var/lib/docker/containers/" + x + "/other.log":          x,
		"/var/log/pods/ns_p_" + vllmUID + "/c/0.log":              "",
		"":                           "",
		"/data/" + x[:63] + "/f.log": "",
	}
	for in, want := range cases {
		if got := idInPath(in); got != want {
			t.Errorf("idInPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLabelsFromProcCgroup goes from the text of /proc/PID/cgroup, through procfs's pick
// of a path, to the labels: cgroup v1 (one line per hierarchy) and v2 (one "0::" line).
func TestLabelsFromProcCgroup(t *testing.T) {
	cases := []struct {
		name, layout, file string
		want               Labels
	}{
		{"v1 cgroupfs containerd", "containerd",
			"12:memory:/kubepods/burstable/pod" + vllmUID + "/" + id("cd-vllm") + "\n" +
				"11:cpu,cpuacct:/kubepods/burstable/pod" + vllmUID + "/" + id("cd-vllm") + "\n" +
				"1:name=systemd:/kubepods/burstable/pod" + vllmUID + "/" + id("cd-vllm") + "\n0::/\n",
			Labels{"inference", "vllm-llama-0", "vllm", vllmUID, id("cd-vllm")}},
		{"v1 systemd CRI-O", "crio",
			"10:devices:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us(sglangUID) + ".slice/crio-" + id("crio-router") + ".scope\n" +
				"1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us(sglangUID) + ".slice/crio-" + id("crio-router") + ".scope\n",
			Labels{"inference", "sglang-7d9f8b6c5-abcde", "router", sglangUID, id("crio-router")}},
		{"v2 systemd containerd", "containerd",
			"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us(vllmUID) + ".slice/cri-containerd-" + id("cd-fetch") + ".scope\n",
			Labels{"inference", "vllm-llama-0", "model-fetch", vllmUID, id("cd-fetch")}},
		{"v2 cgroupfs docker", "docker",
			"0::/kubepods/besteffort/pod" + tgiUID + "/" + id("dk-tgi") + "\n",
			Labels{"inference", "tgi-0", "tgi", tgiUID, id("dk-tgi")}},
	}
	for _, c := range cases {
		path, err := procfs.ParseCgroup([]byte(c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, inPod := resolver(c.layout).Labels(path)
		if got != c.want || !inPod {
			t.Errorf("%s: path %q\n got %+v, %v\nwant %+v, true", c.name, path, got, inPod, c.want)
		}
	}
}
