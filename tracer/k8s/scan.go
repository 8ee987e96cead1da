package k8s

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// pod is what the pod logs directory says about one pod.
type pod struct {
	namespace, name string
	containers      []string // container directory names, sorted
}

// container is what a log link says about one container id.
type container struct {
	uid, name string
	// namespace and pod come from a /var/log/containers link's own name, so a container
	// whose pod directory was not read (or whose cgroup path had no UID) is still named.
	namespace, pod string
}

// index is one scan of the two log directories.
type index struct {
	pods       map[string]pod       // pod UID -> pod
	containers map[string]container // container id -> container
}

// scan reads podLogs and containerLogs into an index. A directory that cannot be read
// leaves its part of the index empty and is reported in the returned error; entries that
// do not follow the kubelet's naming are skipped, since other tools write there too.
func scan(podLogs, containerLogs string) (index, error) {
	idx := index{pods: map[string]pod{}, containers: map[string]container{}}
	var errs []error
	if err := scanPodLogs(podLogs, idx); err != nil {
		errs = append(errs, err)
	}
	if err := scanContainerLogs(containerLogs, idx); err != nil {
		errs = append(errs, err)
	}
	return idx, errors.Join(errs...)
}

// scanPodLogs reads <namespace>_<pod>_<uid>/<container>/<restart>.log.
func scanPodLogs(dir string, idx index) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pod logs: %w", err)
	}
	for _, e := range ents {
		ns, name, uid, ok := parsePodDir(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		p := pod{namespace: ns, name: name}
		cents, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			// The pod was deleted between the two reads: it has no containers to name.
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("pod logs: %w", err)
		}
		for _, c := range cents {
			if !c.IsDir() {
				continue
			}
			p.containers = append(p.containers, c.Name())
			// docker (cri-dockerd) links each restart's log to the runtime's file,
			// /var/lib/docker/containers/<id>/<id>-json.log: the link names the id.
			logs, _ := os.ReadDir(filepath.Join(dir, e.Name(), c.Name()))
			for _, l := range logs {
				if l.Type()&fs.ModeSymlink == 0 {
					continue
				}
				target, err := os.Readlink(filepath.Join(dir, e.Name(), c.Name(), l.Name()))
				if err != nil {
					continue
				}
				if id := idInPath(target); id != "" {
					if _, seen := idx.containers[id]; !seen {
						idx.containers[id] = container{uid: uid, name: c.Name(), namespace: ns, pod: name}
					}
				}
			}
		}
		idx.pods[uid] = p
	}
	return nil
}

// scanContainerLogs reads the kubelet's links <pod>_<namespace>_<container>-<id>.log.
// A link's own name carries everything but the pod UID; the UID comes from its target,
// read as a string so that it need not resolve inside the agent's mount namespace.
func scanContainerLogs(dir string, idx index) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("container logs: %w", err)
	}
	for _, e := range ents {
		pname, ns, cname, id, ok := parseContainerLog(e.Name())
		if !ok {
			continue
		}
		c := container{pod: pname, namespace: ns, name: cname}
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			for comp := range strings.SplitSeq(target, "/") {
				if ns, pname, uid, ok := parsePodDir(comp); ok && ns == c.namespace && pname == c.pod {
					c.uid = uid
				}
			}
		}
		idx.containers[id] = c
	}
	return nil
}

// parseContainerLog splits a container log link's name, <pod>_<namespace>_<container>-<id>.log,
// where id is 64 hex digits. Pod, namespace and container names cannot hold an underscore.
func parseContainerLog(s string) (pod, namespace, container, id string, ok bool) {
	name, ok := strings.CutSuffix(s, ".log")
	if !ok || len(name) < 66 || name[len(name)-65] != '-' {
		return "", "", "", "", false
	}
	id = name[len(name)-64:]
	parts := strings.Split(name[:len(name)-65], "_")
	if !isHexID(id) || len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", "", false
	}
	return parts[0], parts[1], parts[2], id, true
}

// parsePodDir splits a pod logs directory name, <namespace>_<pod>_<uid>. Namespaces and
// pod names are DNS names, which cannot hold an underscore, so the split is exact.
func parsePodDir(s string) (namespace, name, uid string, ok bool) {
	parts := strings.Split(s, "_")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !isPodUID(parts[2]) {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// idInPath returns the last 64-hex component of a path, with docker's "-json.log"
// suffix or a ".log" suffix taken off, or "".
func idInPath(p string) string {
	comps := strings.Split(p, "/")
	for i := len(comps) - 1; i >= 0; i-- {
		c := strings.TrimSuffix(strings.TrimSuffix(comps[i], ".log"), "-json")
		if isHexID(c) {
			return c
		}
	}
	return ""
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// isPodUID accepts an RFC 4122 text UUID or the 32 hex digits of a static pod's UID.
func isPodUID(s string) bool {
	switch len(s) {
	case 32:
		for _, c := range s {
			if !isHex(c) {
				return false
			}
		}
		return true
	case 36:
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
	return false
}

func isHex(c rune) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
