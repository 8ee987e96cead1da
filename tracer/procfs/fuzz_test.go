package procfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureFiles returns the contents of every fixture file with the given base name.
func fixtureFiles(t testing.TB, name string) [][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata/proc/*", name))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture %s: %v", name, err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func formatMapping(m Mapping) string {
	path := strings.ReplaceAll(m.Path, "\n", `\012`)
	if m.Deleted {
		path += deletedSuffix
	}
	return fmt.Sprintf("%x-%x %s %08x %v %d %s", m.Start, m.End, m.Perms, m.Offset, m.Dev, m.Inode, path)
}

func FuzzParseMapsLine(f *testing.F) {
	for _, b := range fixtureFiles(f, "maps") {
		for line := range strings.SplitSeq(string(b), "\n") {
			f.Add(line)
		}
	}
	f.Add("1000-2000 r-xp 00000000 08:10 9 /tmp/a\\012b (deleted)")
	f.Add("1000-2000 r-xp 00000000 103:02 9     ")
	f.Fuzz(func(t *testing.T, line string) {
		m, err := ParseMapsLine(line)
		if err != nil {
			return
		}
		if m.Start > m.End || len(m.Perms) != 4 || strings.HasPrefix(m.Path, " ") || (m.Deleted && m.Inode == 0) {
			t.Fatalf("%q parsed to inconsistent %+v", line, m)
		}
		// what parses, printed as the kernel prints it, parses back the same
		again, err := ParseMapsLine(formatMapping(m))
		if err != nil || again != m {
			t.Fatalf("%q: %+v, reprinted %q parses to %+v, %v", line, m, formatMapping(m), again, err)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	for _, b := range fixtureFiles(f, "stat") {
		f.Add(b)
	}
	f.Add([]byte("42 ()) Z 7 9 9" + tail))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err != nil {
			return
		}
		if s.PID <= 0 || s.PPID < 0 || !bytes.Contains(b, []byte("("+s.Comm+")")) {
			t.Fatalf("%q parsed to inconsistent %+v", b, s)
		}
		re := fmt.Sprintf("%d (%s) %s %d %d"+strings.Repeat(" 0", 14)+" %d 0 %d 0\n",
			s.PID, s.Comm, string([]byte{s.State}), s.PPID, s.PGRP, s.NumThreads, s.StartTicks)
		again, err := ParseStat([]byte(re))
		if err != nil || again != s {
			t.Fatalf("%q: %+v, reprinted %q parses to %+v, %v", b, s, re, again, err)
		}
	})
}

func FuzzCgroup(f *testing.F) {
	for _, b := range fixtureFiles(f, "cgroup") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseCgroup(b)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("%q: path %q", b, p)
		}
		if id := ContainerID(p); id != "" && (len(id) != 64 || !strings.Contains(p, id)) {
			t.Fatalf("%q: container id %q", p, id)
		}
		if uid := PodUID(p); uid != "" && !isPodUID(uid) {
			t.Fatalf("%q: pod uid %q", p, uid)
		}
	})
}
