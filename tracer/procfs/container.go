package procfs

import "strings"

// containerPrefixes are the cgroup directory prefixes container runtimes use, systemd
// driver and cgroupfs driver alike. The "-conmon-" scopes of CRI-O and podman hold the
// monitor, not the container, and do not match since a 64-hex id must follow directly.
var containerPrefixes = []string{
	"docker-",         // docker, systemd driver: docker-<id>.scope
	"cri-containerd-", // containerd CRI, systemd driver: cri-containerd-<id>.scope
	"crio-",           // CRI-O: crio-<id>.scope (systemd) or crio-<id> (cgroupfs)
	"libpod-",         // podman: libpod-<id>.scope, libpod_parent/libpod-<id>
	"",                // docker and containerd, cgroupfs driver: /docker/<id>, /kubepods/.../<id>
}

// ContainerID returns the container id in a cgroup path: the 64-hex id of the innermost
// (last) component that a container runtime named, or "" outside containers. Recognised:
// docker (/docker/<id>, docker-<id>.scope), containerd (cri-containerd-<id>.scope,
// /kubepods/.../pod<uid>/<id>), CRI-O (crio-<id>.scope) and podman (libpod-<id>.scope,
// including the ".../libpod-<id>.scope/container" sub-cgroup).
func ContainerID(cgroupPath string) string {
	parts := strings.Split(cgroupPath, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		name := strings.TrimSuffix(parts[i], ".scope")
		for _, p := range containerPrefixes {
			if id, ok := strings.CutPrefix(name, p); ok && isHexID(id, 64) {
				return id
			}
		}
	}
	return ""
}

// PodUID returns the Kubernetes pod UID in a kubepods cgroup path, or "". It reads both
// kubelet layouts: cgroupfs (/kubepods/burstable/pod<uid>/<id>) and systemd
// (kubepods-burstable-pod<uid_with_underscores>.slice, where systemd cannot have dashes
// in a unit name's component); underscores come back as dashes. Static (mirror) pods'
// UIDs are 32 hex digits with no dashes and are returned as found.
func PodUID(cgroupPath string) string {
	if !strings.Contains(cgroupPath, "kubepods") {
		return ""
	}
	parts := strings.Split(cgroupPath, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		c := parts[i]
		var uid string
		if s, ok := strings.CutSuffix(c, ".slice"); ok {
			j := strings.LastIndex(s, "-pod")
			if !strings.HasPrefix(s, "kubepods-") || j < 0 {
				continue
			}
			uid = strings.ReplaceAll(s[j+len("-pod"):], "_", "-")
		} else if s, ok := strings.CutPrefix(c, "pod"); ok {
			uid = s
		} else {
			continue
		}
		if isPodUID(uid) {
			return uid
		}
	}
	return ""
}

// isPodUID accepts an RFC 4122 text UUID (8-4-4-4-12 hex) or 32 hex digits.
func isPodUID(s string) bool {
	if isHexID(s, 32) {
		return true
	}
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	return true
}

func isHexID(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c rune) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
