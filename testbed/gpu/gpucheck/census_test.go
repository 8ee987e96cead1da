package main

import (
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestProbedFamiliesCoverCalls(t *testing.T) {
	fam := map[string]bool{}
	for _, f := range probedFamilies {
		fam[f.family] = true
	}
	for c := event.Call(1); int(c) < event.NumCalls; c++ {
		if !fam[c.String()] {
			t.Errorf("event call %s has no row in probedFamilies (mirror tracer/probes.go)", c)
		}
	}
	if len(probedFamilies) != event.NumCalls-1 {
		t.Errorf("%d families for %d calls", len(probedFamilies), event.NumCalls-1)
	}
	set := probedSet()
	for name, want := range map[string]bool{
		"cuLaunchKernel": true, "cuLaunchKernel_ptsz": true, "cuMemcpyDtoH_v2": true, "cuMemcpyDtoH": false,
		"cuEventRecordWithFlags_ptsz": true, "cuGraphInstantiateWithParams": true, "cuStreamQuery": false,
	} {
		if set[name] != want {
			t.Errorf("probed %s = %v, want %v", name, set[name], want)
		}
	}
}

// TestCuSymbolsOffsets checks the file offsets against the section headers (an
// independent way to the same number) on the simulated driver.
func TestCuSymbolsOffsets(t *testing.T) {
	lib := fakecuda.BuildForTest(t).Lib
	syms, err := cuSymbols(lib)
	if err != nil {
		t.Fatal(err)
	}
	if len(syms) < 60 {
		t.Fatalf("%d cu* symbols, want the simulated driver's 70-odd", len(syms))
	}
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	found := map[string]bool{}
	for _, s := range syms {
		found[s.name] = true
		if !strings.HasPrefix(s.name, "cu") {
			t.Errorf("symbol %s does not start with cu", s.name)
		}
		if s.addr >= text.Addr && s.addr < text.Addr+text.Size {
			if want := s.addr - text.Addr + text.Offset; s.offset != want {
				t.Errorf("%s: offset %#x, want %#x", s.name, s.offset, want)
			}
		}
	}
	for _, n := range []string{"cuLaunchKernel", "cuLaunchKernel_ptsz", "cuStreamSynchronize", "cuMemcpyDtoH_v2"} {
		if !found[n] {
			t.Errorf("%s missing from %d symbols", n, len(syms))
		}
	}
}

const profileFixture = `  /usr/lib/x86_64-linux-gnu/libcuda.so.1 cuLaunchKernel                                   1200
  /usr/lib/x86_64-linux-gnu/libcuda.so.1 cuLaunchKernel_ptsz                                 0
  /usr/lib/x86_64-linux-gnu/libcuda.so.1 ipcensus/cuStreamSynchronize                      300
  /usr/lib/x86_64-linux-gnu/libcuda.so.1 cuMemcpyDtoH                                       12
  /usr/lib/x86_64-linux-gnu/libcuda.so.1 cuStreamQuery                                     44
  /usr/lib/x86_64-linux-gnu/libcuda.so.1 cuCtxGetCurrent                                  900
`

func TestParseProfileAndJoin(t *testing.T) {
	hits, err := parseProfile(strings.NewReader(profileFixture))
	if err != nil {
		t.Fatal(err)
	}
	if hits["cuLaunchKernel"] != 1200 || hits["cuStreamSynchronize"] != 300 || len(hits) != 6 {
		t.Fatalf("hits %v", hits)
	}
	if _, err := parseProfile(strings.NewReader("  /lib/libcuda.so cuInit many\n")); err == nil {
		t.Error("a non-numeric hit count parsed")
	}
	syms := []symbol{{name: "cuCtxGetCurrent"}, {name: "cuLaunchKernel"}, {name: "cuLaunchKernel_ptsz"},
		{name: "cuMemcpyDtoH"}, {name: "cuMemcpyDtoH_v2"}, {name: "cuStreamQuery"}, {name: "cuStreamSynchronize"}}
	c := joinCensus(syms, hits)
	if c.exported != 7 || c.hit != 5 || c.probedExported != 4 || c.probedHit != 2 {
		t.Errorf("exported %d hit %d probed %d probed hit %d", c.exported, c.hit, c.probedExported, c.probedHit)
	}
	if list(c.launchVariants) != "cuLaunchKernel" || list(c.waitVariant) != "cuStreamSynchronize" {
		t.Errorf("variants %v %v", c.launchVariants, c.waitVariant)
	}
	// the bare cuMemcpyDtoH (v1 ABI, not probed) and cuStreamQuery (a polling wait) are gaps
	if len(c.gaps) != 2 || c.gaps[0].name != "cuMemcpyDtoH" || c.gaps[1].name != "cuStreamQuery" {
		t.Errorf("gaps %v", c.gaps)
	}
	if c.rows[0].name != "cuLaunchKernel" || c.rows[1].name != "cuCtxGetCurrent" || c.rows[1].probed {
		t.Errorf("rows %v", c.rows)
	}
	var out bytes.Buffer
	c.write(&out)
	if !strings.Contains(out.String(), "libcuda exports 7 cu* functions; 5 were called during the census; inferprobe probes 4 of the exported, 2 of them were called") {
		t.Errorf("report:\n%s", out.String())
	}
}

// TestCensusTracefs registers the census on a private copy of the simulated driver, runs
// 500 launches through it and reads exactly 500 hits back (root, tracefs uprobe_events).
func TestCensusTracefs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the census writes tracefs uprobe_events: needs root")
	}
	tf := tracefs{"/sys/kernel/tracing"}
	if _, err := os.Stat(tf.path("uprobe_events")); err != nil {
		t.Skip(err.Error())
	}
	paths := fakecuda.BuildForTest(t)
	lib := filepath.Join(t.TempDir(), fakecuda.LibName) // its own inode: no other test's calls count
	copyFile(t, paths.Lib, lib)
	syms, err := cuSymbols(lib)
	if err != nil {
		t.Fatal(err)
	}
	const group = "ipcensustest"
	n, refused, err := tf.start(group, lib, syms)
	t.Cleanup(func() { tf.stop(group) })
	if err != nil || n != len(syms) || len(refused) != 0 {
		t.Fatalf("start: %d of %d probed, refused %v: %v", n, len(syms), refused, err)
	}
	if out, err := exec.Command(paths.Driver, "--lib", lib, "bench", "launch", "500").CombinedOutput(); err != nil {
		t.Fatalf("cudriver: %v\n%s", err, out)
	}
	lines, err := tf.stop(group)
	if err != nil {
		t.Fatal(err)
	}
	hits, err := parseProfile(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if hits["cuLaunchKernel"] != 500 || len(hits) != len(syms) {
		t.Errorf("cuLaunchKernel hit %d times, want 500; %d probes read for %d symbols", hits["cuLaunchKernel"], len(hits), len(syms))
	}
	if names, _ := tf.names(group); len(names) != 0 {
		t.Errorf("%d probes left after stop", len(names))
	}
	if _, err := os.Stat(tf.path("instances", group)); !os.IsNotExist(err) {
		t.Errorf("instance left after stop: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
