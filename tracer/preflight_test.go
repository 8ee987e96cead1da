package tracer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	for in, want := range map[string][2]int{"6.18.44-fc-v782": {6, 18}, "5.15.0-105-generic": {5, 15}, "4.19.0": {4, 19}, "6.8": {6, 8}, "5.4rc1-x": {5, 4}} {
		got, ok := parseRelease(in)
		if !ok || got != want {
			t.Errorf("parseRelease(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	if _, ok := parseRelease("linux"); ok {
		t.Error("parseRelease(linux) ok")
	}
}

// Preflight names every gap at once, in one sentence.
func TestPreflightGaps(t *testing.T) {
	dir := t.TempDir()
	status := filepath.Join(dir, "status")
	os.WriteFile(status, []byte("Name:\tx\nCapEff:\t0000000000000000\n"), 0o644)
	defer func(b, tr, dt, s string, u func() (string, error), g func() int, m func() error) {
		btfPath, tracefsDir, debugTracefs, selfStatus, unameRelease, geteuid, removeMemlock = b, tr, dt, s, u, g, m
	}(btfPath, tracefsDir, debugTracefs, selfStatus, unameRelease, geteuid, removeMemlock)
	btfPath, tracefsDir, debugTracefs, selfStatus = filepath.Join(dir, "btf"), filepath.Join(dir, "tracing"), filepath.Join(dir, "dbg"), status
	unameRelease = func() (string, error) { return "5.10.0-8-amd64", nil }
	geteuid = func() int { return 1000 }
	removeMemlock = func() error { return errors.New("operation not permitted") }

	err := Preflight()
	if !errors.Is(err, ErrPreflight) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"CAP_BPF and CAP_PERFMON", "no kernel BTF", "tracefs is not mounted", "kernel 5.10.0-8-amd64 is older than 5.15"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("not one line: %q", err)
	}
	if strings.Contains(err.Error(), "memlock") {
		t.Errorf("%q blames memlock, which only follows from the missing privileges", err)
	}
	// Privileged, a memlock limit that cannot be lifted is a gap of its own.
	geteuid = func() int { return 0 }
	if err := Preflight(); err == nil || !strings.Contains(err.Error(), "memlock") {
		t.Errorf("as root with a fixed memlock limit: %v", err)
	}
	geteuid = func() int { return 1000 }

	// CAP_BPF + CAP_PERFMON suffice without root.
	os.WriteFile(status, []byte("CapEff:\t000000c000000000\n"), 0o644)
	os.WriteFile(btfPath, nil, 0o644)
	os.MkdirAll(filepath.Join(tracefsDir, "events"), 0o755)
	unameRelease = func() (string, error) { return "6.1.0", nil }
	removeMemlock = func() error { return nil }
	if err := Preflight(); err != nil {
		t.Errorf("with capabilities: %v", err)
	}
}

func TestCgroupMatch(t *testing.T) {
	tr := &Tracer{autoCgroups: map[string]bool{"/system.slice/docker-ab.scope": true}}
	tr.cgroups = []string{normalizeCgroup("/sys/fs/cgroup/kubepods.slice/pod1/"), normalizeCgroup("serving")}
	for cg, want := range map[string]bool{
		"/kubepods.slice/pod1": true, "/kubepods.slice/pod1/c1": true, "/kubepods.slice/pod10": false,
		"/serving": true, "/servingx": false, "/system.slice/docker-ab.scope": true, "/": false,
	} {
		if got := tr.inCgroups(cg); got != want {
			t.Errorf("inCgroups(%q) = %v", cg, got)
		}
	}
}
