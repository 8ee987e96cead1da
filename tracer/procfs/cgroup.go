package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ParseCgroup picks one path out of the contents of /proc/PID/cgroup, whose lines read
// "hierarchy-id:controllers:path":
//   - the cgroup v2 path, from the "0::" line, on unified hosts and on hybrid hosts where
//     the process sits below the v2 root;
//   - else the "name=systemd" path (cgroup v1, or hybrid with nothing in v2);
//   - else the first v1 controller path other than "/";
//   - else "/".
//
// Paths are relative to the reader's cgroup namespace, so an agent in its own namespace
// may see "/../../kubepods.slice/..."; ContainerID and PodUID look at the components and
// do not mind.
func ParseCgroup(b []byte) (string, error) {
	var v2, systemd, controller string
	var haveV2, haveSystemd, any bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || id == "" || !strings.HasPrefix(path, "/") {
			return "", fmt.Errorf("cgroup: bad line %q", line)
		}
		any = true
		switch {
		case id == "0" && ctrls == "":
			v2, haveV2 = path, true
		case hasController(ctrls, "name=systemd"):
			systemd, haveSystemd = path, true
		case controller == "" && path != "/":
			controller = path
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cgroup: scan: %w", err)
	}
	switch {
	case !any:
		return "", errors.New("cgroup: empty")
	case haveV2 && v2 != "/":
		return v2, nil
	case haveSystemd && systemd != "/":
		return systemd, nil
	case controller != "":
		return controller, nil
	}
	return "/", nil
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// Cgroup reads /proc/PID/cgroup and returns the path ParseCgroup picks.
func (f FS) Cgroup(pid int) (string, error) {
	p := f.pidPath(pid, "cgroup")
	b, err := readFile(p)
	if err != nil {
		return "", err
	}
	cg, err := ParseCgroup(b)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", p, err)
	}
	return cg, nil
}
