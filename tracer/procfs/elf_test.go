package procfs

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const fakeDriverC = `
int cuLaunchKernel(void) { return 1; }
int cuLaunchKernel_ptsz(void) { return 2; }
int cuLaunchKernel_v2 = 3; /* data, not a function */
__attribute__((visibility("hidden"))) int cuLaunchKernel_v3(void) { return 4; }
extern int cuGraphLaunch(void); /* imported: undefined here */
int cuGraphInstantiateWithFlags(void) { return cuGraphLaunch(); }
int dtoh_old(void) { return 5; }
int dtoh_new(void) { return 6; }
__asm__(".symver dtoh_old,cuMemcpyDtoH_v2@CUDA_1");
__asm__(".symver dtoh_new,cuMemcpyDtoH_v2@@CUDA_2");
`

const fakeDriverMap = `
CUDA_1 { global: cuLaunchKernel; cuLaunchKernel_ptsz; cuLaunchKernel_v2; cuGraphInstantiateWithFlags; cuMemcpyDtoH_v2; local: *; };
CUDA_2 { global: cuMemcpyDtoH_v2; } CUDA_1;
`

// buildFakeDriver compiles a small libcuda.so.1 with gcc, or skips.
func buildFakeDriver(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot build the test shared library")
	}
	dir := t.TempDir()
	src, vmap, lib := filepath.Join(dir, "drv.c"), filepath.Join(dir, "drv.map"), filepath.Join(dir, "libcuda.so.1")
	must(t, os.WriteFile(src, []byte(fakeDriverC), 0o644))
	must(t, os.WriteFile(vmap, []byte(fakeDriverMap), 0o644))
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-O0", "-Wl,--version-script="+vmap, "-o", lib, src).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return lib
}

// nmDefined lists the defined dynamic symbols as binutils' nm sees them ("name@@ver" -> value).
func nmDefined(t *testing.T, lib string) map[string]uint64 {
	out, err := exec.Command("nm", "-D", "--defined-only", lib).Output()
	if err != nil {
		t.Skipf("nm: %v: cannot cross-check addresses", err)
	}
	m := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 {
			v, _ := strconv.ParseUint(f[0], 16, 64)
			m[f[2]] = v
		}
	}
	return m
}

func TestELFSymbols(t *testing.T) {
	lib := buildFakeDriver(t)
	want := append(append(Candidates("cuLaunchKernel"), Candidates("cuGraphInstantiate", "cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams")...),
		append(Candidates("cuMemcpyDtoH"), "cuGraphLaunch")...)
	got, err := ELFSymbols(lib, want)
	if err != nil {
		t.Fatal(err)
	}
	nm := nmDefined(t, lib)
	exp := map[string]uint64{
		"cuLaunchKernel":              nm["cuLaunchKernel@@CUDA_1"],
		"cuLaunchKernel_ptsz":         nm["cuLaunchKernel_ptsz@@CUDA_1"],
		"cuGraphInstantiateWithFlags": nm["cuGraphInstantiateWithFlags@@CUDA_1"],
		"cuMemcpyDtoH_v2":             nm["cuMemcpyDtoH_v2@@CUDA_2"], // the default version
	}
	for n, v := range exp {
		if v == 0 {
			t.Fatalf("nm does not list %s: %v", n, nm)
		}
	}
	// the hidden version comes first in .dynsym: ELFSymbols must pass over it
	if old := nm["cuMemcpyDtoH_v2@CUDA_1"]; old == 0 || old == exp["cuMemcpyDtoH_v2"] {
		t.Fatalf("cuMemcpyDtoH_v2@CUDA_1 at %#x, default at %#x: the test proves nothing", old, exp["cuMemcpyDtoH_v2"])
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("ELFSymbols\n got  %v\n want %v (data cuLaunchKernel_v2, hidden _v3 and imported cuGraphLaunch left out)", got, exp)
	}

	if v := Variants("cuLaunchKernel", got); !reflect.DeepEqual(v, []string{"cuLaunchKernel", "cuLaunchKernel_ptsz"}) {
		t.Errorf("Variants(cuLaunchKernel) = %v", v)
	}
	if v := Variants("cuGraphInstantiate", got, "cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams"); !reflect.DeepEqual(v, []string{"cuGraphInstantiateWithFlags"}) {
		t.Errorf("Variants(cuGraphInstantiate) = %v", v)
	}
	if v := Variants("cuStreamSynchronize", got); len(v) != 0 {
		t.Errorf("Variants(cuStreamSynchronize) = %v, want none", v)
	}

	if _, err := ELFSymbols(filepath.Join(t.TempDir(), "missing.so"), want); err == nil {
		t.Error("missing file: no error")
	}
	notELF := filepath.Join(t.TempDir(), "x.so")
	must(t, os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o644))
	if _, err := ELFSymbols(notELF, want); err == nil {
		t.Error("not an ELF file: no error")
	}
}

func TestCandidates(t *testing.T) {
	c := Candidates("cuGraphInstantiate", "cuGraphInstantiateWithFlags")
	if len(c) != 18 || c[0] != "cuGraphInstantiate" || c[8] != "cuGraphInstantiate_v3_ptds" || c[9] != "cuGraphInstantiateWithFlags" || c[17] != "cuGraphInstantiateWithFlags_v3_ptds" {
		t.Errorf("Candidates = %v", c)
	}
	exported := map[string]uint64{"cuMemcpyDtoH_v2": 1, "cuMemcpyDtoH_v2_ptds": 2, "cuMemcpyDtoHAsync_v2": 3}
	if v := Variants("cuMemcpyDtoH", exported); !reflect.DeepEqual(v, []string{"cuMemcpyDtoH_v2", "cuMemcpyDtoH_v2_ptds"}) {
		t.Errorf("Variants(cuMemcpyDtoH) = %v (cuMemcpyDtoHAsync is another family)", v)
	}
}
