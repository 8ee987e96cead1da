package procfs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// id gives the fixture's container ids: sha256 of the runtime's name.
func id(name string) string {
	s := sha256.Sum256([]byte(name))
	return hex.EncodeToString(s[:])
}

const uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

var uidU = strings.ReplaceAll(uid, "-", "_")

func TestParseCgroup(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"v2", "0::/system.slice/docker-abc.scope\n", "/system.slice/docker-abc.scope"},
		{"v2 root", "0::/\n", "/"},
		{"v1 systemd", "12:hugetlb:/docker/x\n1:name=systemd:/docker/y\n", "/docker/y"},
		{"v1 first controller", "12:pids:/\n4:memory:/kubepods/a\n3:cpu,cpuacct:/kubepods/b\n", "/kubepods/a"},
		{"hybrid, v2 used", "1:name=systemd:/system.slice/a.service\n0::/system.slice/a.service\n", "/system.slice/a.service"},
		{"hybrid, v2 at root", "5:memory:/m\n1:name=systemd:/system.slice/a.service\n0::/\n", "/system.slice/a.service"},
		{"hybrid, only a controller", "9:name=systemd:/\n4:memory:/process_api/6657\n0::/\n", "/process_api/6657"},
		{"all root", "2:cpu:/\n1:name=systemd:/\n", "/"},
		{"cgroup namespace", "0::/../../kubepods.slice/x.scope\n", "/../../kubepods.slice/x.scope"},
		{"colon in path", "0::/a:b\n", "/a:b"},
	} {
		got, err := ParseCgroup([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "\n", "0:/x\n", "0::x\n", ":cpu:/x\n"} {
		if got, err := ParseCgroup([]byte(bad)); err == nil {
			t.Errorf("ParseCgroup(%q) = %q, want an error", bad, got)
		}
	}
}

func TestFSCgroup(t *testing.T) {
	for pid, want := range map[int]struct{ path, container, pod string }{
		1:   {"/init.scope", "", ""},
		100: {"/system.slice/docker-" + id("docker") + ".scope", id("docker"), ""},
		103: {"/user.slice/user-1000.slice/session-3.scope", "", ""},
		200: {"/docker/" + id("docker"), id("docker"), ""},
		201: {"/system.slice/tgi.service", "", ""},
		300: {"/kubepods/burstable/pod" + uid + "/" + id("containerd"), id("containerd"), uid},
		301: {"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + id("containerd") + ".scope", id("containerd"), uid},
		302: {"/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + id("crio") + ".scope", id("crio"), uid},
		303: {"/machine.slice/libpod-" + id("podman") + ".scope/container", id("podman"), ""},
	} {
		got, err := fixture.Cgroup(pid)
		if err != nil || got != want.path {
			t.Errorf("Cgroup(%d) = %q, %v; want %q", pid, got, err, want.path)
		}
		if c := ContainerID(got); c != want.container {
			t.Errorf("ContainerID of %d = %q, want %q", pid, c, want.container)
		}
		if p := PodUID(got); p != want.pod {
			t.Errorf("PodUID of %d = %q, want %q", pid, p, want.pod)
		}
	}
	if _, err := fixture.Cgroup(999); !errors.Is(err, ErrGone) {
		t.Errorf("Cgroup(999): err %v, want ErrGone", err)
	}
}

func TestContainerID(t *testing.T) {
	d, c := id("docker"), id("containerd")
	for path, want := range map[string]string{
		"/docker/" + d:                                                         d,
		"/system.slice/docker-" + d + ".scope":                                 d,
		"/kubepods/besteffort/pod" + uid + "/" + c:                             c,
		"/kubepods/pod" + uid + "/" + c:                                        c,
		"/../../kubepods-pod" + uidU + ".slice/cri-containerd-" + c + ".scope": c,
		"/system.slice/crio-" + c + ".scope":                                   c,
		"/kubepods/burstable/pod" + uid + "/crio-" + c:                         c,
		"/machine.slice/libpod-" + c + ".scope":                                c,
		"/libpod_parent/libpod-" + c:                                           c,
		"/machine.slice/libpod-" + c + ".scope/container":                      c,
		"/docker/" + d + "/docker/" + c:                                        c,  // docker in docker: innermost
		"/system.slice/crio-conmon-" + c + ".scope":                            "", // the monitor, not the container
		"/machine.slice/libpod-conmon-" + c + ".scope":                         "",
		"/kubepods/burstable/pod" + uid:                                        "", // the pod, no container
		"/system.slice/docker.service":                                         "",
		"/user.slice/user-1000.slice/session-3.scope":                          "",
		"/docker/" + d[:12]:                                                    "", // short ids are not cgroup names
		"/docker/" + strings.ToUpper(d):                                        "",
		"/":                                                                    "",
		"":                                                                     "",
	} {
		if got := ContainerID(path); got != want {
			t.Errorf("ContainerID(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestPodUID(t *testing.T) {
	static := "6d5b7d3e0c7f4a1b9e8d7c6b5a4f3e2d"
	for path, want := range map[string]string{
		"/kubepods/burstable/pod" + uid + "/" + id("x"): uid,
		"/kubepods/pod" + uid + "/" + id("x"):           uid,
		"/kubepods/besteffort/pod" + uid:                uid,
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + id("x") + ".scope": uid,
		"/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + id("x") + ".scope":                                                uid,
		"/kubepods/burstable/pod" + static + "/" + id("x"):                                                                         static,
		"/kubepods.slice/kubepods-burstable.slice":                                                                                 "",
		"/system.slice/pod" + uid:                                     "", // not kubepods
		"/kubepods/burstable/podnotauid":                              "",
		"/kubepods/burstable/pod" + strings.ReplaceAll(uid, "-", "x"): "",
		"/kubepods.slice/kubepods-burstable-pod" + uidU + "x.slice":   "",
		"": "",
	} {
		if got := PodUID(path); got != want {
			t.Errorf("PodUID(%q) = %q, want %q", path, got, want)
		}
	}
}
