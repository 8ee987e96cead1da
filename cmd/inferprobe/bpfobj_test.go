package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// bpfIDs are the kernel ids of the BPF objects a process holds file descriptors of.
type bpfIDs struct {
	progs, maps, links []uint32
}

// bpfObjects reads them from /proc/PID/fdinfo (prog_id, map_id and link_id lines).
func bpfObjects(t *testing.T, pid int) bpfIDs {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids bpfIDs
	seen := map[string]bool{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || seen[line] {
				continue
			}
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				continue
			}
			switch k {
			case "prog_id":
				ids.progs = append(ids.progs, uint32(n))
			case "map_id":
				ids.maps = append(ids.maps, uint32(n))
			case "link_id":
				ids.links = append(ids.links, uint32(n))
			default:
				continue
			}
			seen[line] = true
		}
	}
	return ids
}

// alive names the first object that still exists in the kernel, "" when none does.
func (ids bpfIDs) alive() string {
	for _, id := range ids.progs {
		if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
			p.Close()
			return fmt.Sprintf("program %d", id)
		}
	}
	for _, id := range ids.maps {
		if m, err := ebpf.NewMapFromID(ebpf.MapID(id)); err == nil {
			m.Close()
			return fmt.Sprintf("map %d", id)
		}
	}
	for _, id := range ids.links {
		if l, err := link.NewFromID(link.ID(id)); err == nil {
			l.Close()
			return fmt.Sprintf("link %d", id)
		}
	}
	return ""
}
