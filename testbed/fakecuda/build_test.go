package fakecuda

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// requiredExports are the entry points the tracer probes or a CUDA program needs.
var requiredExports = []string{
	"cuInit", "cuDriverGetVersion", "cuDeviceGet", "cuDeviceGetCount", "cuDeviceGetName",
	"cuDeviceTotalMem_v2", "cuCtxCreate_v2", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent",
	"cuCtxGetCurrent", "cuMemGetInfo_v2", "cuStreamCreate", "cuStreamDestroy_v2", "cuEventCreate",
	"cuEventDestroy_v2", "cuModuleLoadData", "cuLibraryLoadData", "cuModuleGetFunction",
	"cuLibraryGetKernel", "cuKernelGetFunction", "cuLaunchKernel", "cuLaunchKernel_ptsz",
	"cuLaunchKernelEx", "cuLaunchKernelEx_ptsz", "cuLaunchCooperativeKernel",
	"cuLaunchCooperativeKernel_ptsz", "cuGraphLaunch", "cuGraphLaunch_ptsz",
	"cuStreamBeginCapture_v2", "cuStreamBeginCapture_v2_ptsz", "cuStreamEndCapture",
	"cuStreamEndCapture_ptsz", "cuGraphInstantiateWithFlags", "cuGraphExecDestroy",
	"cuGraphDestroy", "cuStreamSynchronize", "cuStreamSynchronize_ptsz", "cuEventRecord",
	"cuEventRecord_ptsz", "cuEventSynchronize", "cuCtxSynchronize", "cuMemcpyDtoH_v2",
	"cuMemcpyDtoH_v2_ptds", "cuMemcpyHtoD_v2", "cuMemcpyHtoD_v2_ptds", "cuMemcpyAsync",
	"cuMemcpyAsync_ptsz", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync_v2_ptsz",
	"cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync_v2_ptsz", "cuMemAlloc_v2", "cuMemAllocAsync",
	"cuMemAllocAsync_ptsz", "cuMemFree_v2", "cuMemFreeAsync", "cuMemFreeAsync_ptsz",
	"cuMemCreate", "cuMemMap", "cuMemRelease", "cuGetErrorName", "cuGetErrorString",
	"cuGetProcAddress_v2",
}

// extraExports are the rest of what the library exports, and nothing else may leak.
var extraExports = []string{
	"cuCtxDestroy_v2", "cuDevicePrimaryCtxRelease_v2", "cuStreamQuery", "cuStreamQuery_ptsz",
	"cuEventQuery", "cuModuleUnload", "cuLibraryUnload", "cuMemGetAllocationGranularity",
	"cuMemAddressReserve", "cuMemAddressFree", "cuMemUnmap", "fakecudaLastCall",
}

func dynFuncs(t *testing.T, lib string) (*elf.File, map[string]elf.Symbol) {
	t.Helper()
	f, err := elf.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]elf.Symbol{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			out[s.Name] = s
		}
	}
	return f, out
}

func TestExports(t *testing.T) {
	p := BuildForTest(t)
	f, funcs := dynFuncs(t, p.Lib)
	for _, name := range requiredExports {
		s, ok := funcs[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		if elf.ST_BIND(s.Info) != elf.STB_GLOBAL || s.Size == 0 {
			t.Errorf("%s: bind %v size %d, want a global function with a body", name, elf.ST_BIND(s.Info), s.Size)
		}
	}
	want := append(slices.Clone(requiredExports), extraExports...)
	for name := range funcs {
		if !slices.Contains(want, name) {
			t.Errorf("unexpected export %s", name)
		}
	}
	if len(funcs) != len(want) {
		t.Errorf("%d functions exported, want %d", len(funcs), len(want))
	}
	// Every entry point at its own address, so one uprobe never serves two symbols.
	at := map[uint64]string{}
	for name, s := range funcs {
		if other, dup := at[s.Value]; dup {
			t.Errorf("%s and %s share address %#x", name, other, s.Value)
		}
		at[s.Value] = name
	}
	var soname []string
	if soname, _ = f.DynString(elf.DT_SONAME); !slices.Equal(soname, []string{LibName}) {
		t.Errorf("soname %q, want %s", soname, LibName)
	}
}

// TestEntryPrologues checks that each entry point starts with a frame setup (push %rbp,
// after an optional endbr64), the instruction a uprobe replaces.
func TestEntryPrologues(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("prologue bytes are checked on amd64 only, this is %s", runtime.GOARCH)
	}
	p := BuildForTest(t)
	f, funcs := dynFuncs(t, p.Lib)
	text := f.Section(".text")
	data, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	endbr := []byte{0xf3, 0x0f, 0x1e, 0xfa}
	for name, s := range funcs {
		b := data[s.Value-text.Addr:]
		b = bytes.TrimPrefix(b, endbr)
		if b[0] != 0x55 {
			t.Errorf("%s starts with %#x, want push %%rbp (0x55)", name, b[:4])
		}
	}
}

// makeVar reads "NAME := value" from the Makefile.
func makeVar(t *testing.T, mk []byte, name string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile has no %s", name)
	}
	return strings.Fields(string(m[1]))
}

func TestMakefileFlagsAgree(t *testing.T) {
	mk, err := sources.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		go_  []string
	}{{"CFLAGS", cFlags}, {"LIBFLAGS", libFlags}, {"LIBLIBS", libLibs}, {"DRVLIBS", drvLibs}} {
		if got := makeVar(t, mk, c.name); !slices.Equal(got, c.go_) {
			t.Errorf("Makefile %s = %q, fakecuda.go has %q", c.name, got, c.go_)
		}
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make not found, flags compared only: %v", err)
	}
	p := BuildForTest(t) // gcc present
	out := t.TempDir()
	cmd := exec.Command("make", "-s", "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make: %v\n%s", err, b)
	}
	_, viaMake := dynFuncs(t, filepath.Join(out, LibName))
	_, viaGo := dynFuncs(t, p.Lib)
	if len(viaMake) != len(viaGo) {
		t.Errorf("make built %d exports, Build %d", len(viaMake), len(viaGo))
	}
	if _, err := os.Stat(filepath.Join(out, "cudriver")); err != nil {
		t.Error(err)
	}
}

func TestBuiltinCostsAgree(t *testing.T) {
	src, err := sources.ReadFile("config.c")
	if err != nil {
		t.Fatal(err)
	}
	if want := `builtin_costs = "` + BuiltinCosts + `"`; !bytes.Contains(src, []byte(want)) {
		t.Errorf("config.c lacks %s", want)
	}
	if want := "copy_gbps = 25.0"; !bytes.Contains(src, []byte(want)) || DefaultCopyGBPS != 25.0 {
		t.Errorf("config.c lacks %s or DefaultCopyGBPS changed", want)
	}
}

func TestBuildIsCached(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skipf("gcc not found: %v", err)
	}
	dir := t.TempDir()
	p, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p.Lib)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Build(dir); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("second Build took %v, want a cache hit", d)
	}
	st2, err := os.Stat(p.Lib)
	if err != nil {
		t.Fatal(err)
	}
	if !st2.ModTime().Equal(st.ModTime()) {
		t.Error("second Build rebuilt the library")
	}
}

// TestProcAddress runs `cudriver procaddr`: cuGetProcAddress_v2 must hand out the same
// addresses as dlsym of the variant a real driver picks (per-thread flag: _ptsz/_ptds).
func TestProcAddress(t *testing.T) {
	p := BuildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.Driver, "--lib", p.Lib, "procaddr").CombinedOutput()
	if err != nil {
		t.Fatalf("procaddr: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`procaddr checked 15\d bad 0`).Match(out) {
		t.Errorf("procaddr output:\n%s", out)
	}
}

// TestSelftest runs `cudriver selftest`: stream ordering (legacy, blocking, non-blocking,
// per-thread), queries, capture errors, bad handles, memory accounting, contexts.
func TestSelftest(t *testing.T) {
	p := BuildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.Driver, "--lib", p.Lib, "selftest").CombinedOutput()
	if err != nil {
		t.Fatalf("selftest: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`selftest checked 4\d bad 0`).Match(out) {
		t.Errorf("selftest output:\n%s", out)
	}
}
