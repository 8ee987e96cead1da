package cuda

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if name := os.Getenv("CUDA_TEST_CHILD"); name != "" {
		if err := children[name](os.Getenv("CUDA_TEST_LIB")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// children are scenarios that poison the process's simulated device, run in a child.
var children = map[string]func(lib string) error{"sticky": stickyChild}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "nope", "libcuda.so.1"))
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("open of a missing file: %v, want ErrNoLibrary", err)
	}
	_, err = Open(t.TempDir()) // a directory without libcuda.so.1
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("open of an empty directory: %v, want ErrNoLibrary", err)
	}
	// A library that is not a CUDA driver.
	_, err = Open("libc.so.6")
	if !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("open of libc: %v, want ErrNoLibrary (no cuInit)", err)
	}
}

// TestNotLinkedToDriver: the driver is dlopen()ed, never a link-time dependency, so a
// binary with this package starts on a machine without libcuda.
func TestNotLinkedToDriver(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if strings.Contains(l, "libcuda") {
			t.Fatalf("the test binary needs %s at link time (DT_NEEDED %v)", l, libs)
		}
	}
}

func TestErrorTyped(t *testing.T) {
	err := fmt.Errorf("step 3: %w", Error{Call: "cuEventSynchronize", Result: 700})
	var ce Error
	if !errors.As(err, &ce) || ce.Result != 700 || !ce.Sticky() {
		t.Fatalf("errors.As: %+v", ce)
	}
	if got, want := ce.Error(), "cuEventSynchronize: CUDA_ERROR_ILLEGAL_ADDRESS (700)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	for r, sticky := range map[int]bool{2: false, 214: false, 600: false, 700: true, 701: false, 702: true, 714: true, 719: true, 720: false} {
		if IsSticky(r) != sticky {
			t.Errorf("IsSticky(%d) = %v", r, !sticky)
		}
	}
	if ResultName(12345) != "CUresult(12345)" {
		t.Errorf("unknown result name %q", ResultName(12345))
	}
}

func TestLaunchLayout(t *testing.T) {
	size, fn, shmem := launchRecLayout()
	var l Launch
	if unsafe.Sizeof(l) != size || unsafe.Offsetof(l.Func) != fn || unsafe.Offsetof(l.SharedMem) != shmem {
		t.Fatalf("Launch: size %d, Func at %d, SharedMem at %d; C record: %d, %d, %d",
			unsafe.Sizeof(l), unsafe.Offsetof(l.Func), unsafe.Offsetof(l.SharedMem), size, fn, shmem)
	}
}

func monoNow() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// within fails unless got is want, or up to tol later (the simulated driver ends a wait
// at the simulated time, never before it; the host adds a little, more on a loaded machine).
func within(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if got < want-50*time.Microsecond || got > want+tol {
		t.Errorf("%s took %v, want %v (+%v)", what, got, want, tol)
	}
}

// TestDriverOnFake drives the simulated driver through every wrapper: launches (one by
// one and as a list) cost what FAKECUDA_COST says, waits end when the work does, graph
// capture holds the captured work until the graph is launched, OOM is a typed error.
func TestDriverOnFake(t *testing.T) {
	dir := fakeLib(t)
	runtime.LockOSThread() // the current context is per thread
	defer runtime.UnlockOSThread()
	t.Setenv("FAKECUDA_COST", "k_base=10000000:0,k_block=0:100000")
	t.Setenv("FAKECUDA_MEM_BYTES", "1GiB")
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Has("cuLaunchKernel") || l.Has("cuNoSuchThing") {
		t.Fatal("Has")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.Init(0))
	dev, err := l.DeviceGet(0)
	must(err)
	ctx, err := l.PrimaryCtxRetain(dev)
	must(err)
	must(l.CtxSetCurrent(ctx))
	s, err := l.StreamCreate(0)
	must(err)
	ev, err := l.EventCreate(0)
	must(err)
	mod, err := l.ModuleLoadData([]byte("k_base k_block"))
	must(err)
	kb, err := l.ModuleGetFunction(mod, "k_base")
	must(err)
	kp, err := l.ModuleGetFunction(mod, "k_block")
	must(err)
	if _, err := l.ModuleGetFunction(mod, "k_missing"); !errors.As(err, new(Error)) {
		t.Fatalf("unknown kernel: %v, want a CUDA error", err)
	}
	dst, err := l.MemAlloc(1 << 20)
	must(err)
	host := NewHostBuf(1 << 20)
	defer host.Free()

	// 3 x 10 ms + 100 blocks x 100 us = 40 ms, launched as a list, waited on with an event.
	list := []Launch{
		{Func: kb, GridX: 1, GridY: 1, GridZ: 1, BlockX: 128, BlockY: 1, BlockZ: 1},
		{Func: kb, GridX: 7, GridY: 1, GridZ: 1, BlockX: 128, BlockY: 1, BlockZ: 1},
		{Func: kp, GridX: 50, GridY: 2, GridZ: 1, BlockX: 256, BlockY: 1, BlockZ: 1},
		{Func: kb, GridX: 1, GridY: 1, GridZ: 1, BlockX: 128, BlockY: 1, BlockZ: 1},
	}
	must(l.MemcpyHtoDAsync(dst, host, 4096, s))
	t0i, err := l.LaunchKernelsAt(list, s)
	must(err)
	t0 := time.Duration(t0i)
	must(l.MemcpyDtoHAsync(host, dst, 256, s))
	must(l.EventRecord(ev, s))
	end, err := l.EventSynchronizeAt(ev)
	must(err)
	within(t, "40 ms of listed launches", time.Duration(end)-t0, 40*time.Millisecond, 15*time.Millisecond)

	// The same work captured: nothing runs until the graph is launched.
	must(l.StreamBeginCapture(s, CaptureThreadLocal))
	must(l.LaunchKernels(list, s))
	g, err := l.StreamEndCapture(s)
	must(err)
	ge, err := l.GraphInstantiate(g, 0)
	must(err)
	t0 = monoNow()
	end, err = l.StreamSynchronizeAt(s)
	must(err)
	within(t, "a sync after capture only", time.Duration(end)-t0, 0, 15*time.Millisecond)
	t0i, err = l.GraphLaunchAt(ge, s)
	must(err)
	t0 = time.Duration(t0i)
	end, err = l.MemcpyDtoHAt(host, dst, 256) // the legacy stream waits for s
	must(err)
	within(t, "the graph, waited on by a blocking copy", time.Duration(end)-t0, 40*time.Millisecond, 15*time.Millisecond)

	// One launch at a time, per-thread variants.
	must(l.UsePerThreadStream())
	t0 = monoNow()
	must(l.LaunchKernel(list[2], s))
	must(l.GraphLaunch(ge, s)) // per-thread variant: 40 ms more
	must(l.StreamSynchronize(s))
	within(t, "a 10 ms launch and the 40 ms graph", monoNow()-t0, 50*time.Millisecond, 15*time.Millisecond)

	_, err = l.MemAlloc(2 << 30)
	var ce Error
	if !errors.As(err, &ce) || ce.Result != ErrorOutOfMemory || ce.Call != "cuMemAlloc_v2" {
		t.Fatalf("2 GiB on a 1 GiB device: %v, want cuMemAlloc_v2 OUT_OF_MEMORY", err)
	}
	must(l.GraphExecDestroy(ge))
	must(l.GraphDestroy(g))
	must(l.MemFree(dst))
	must(l.EventDestroy(ev))
	must(l.StreamDestroy(s))
	must(l.ModuleUnload(mod))
}

// TestStickyFault: an injected 700 on the first wait comes back as a sticky Error, and
// every later call fails with it. Runs in a child: the fault poisons its process.
func TestStickyFault(t *testing.T) {
	dir := fakeLib(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CUDA_TEST_CHILD=sticky", "CUDA_TEST_LIB="+dir, "FAKECUDA_FAULT=wait:1:700")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func stickyChild(dir string) error {
	runtime.LockOSThread()
	l, err := Open(dir)
	if err != nil {
		return err
	}
	if err := l.Init(0); err != nil {
		return err
	}
	ctx, err := l.PrimaryCtxRetain(0)
	if err != nil {
		return err
	}
	if err := l.CtxSetCurrent(ctx); err != nil {
		return err
	}
	s, err := l.StreamCreate(0)
	if err != nil {
		return err
	}
	err = l.StreamSynchronize(s)
	var ce Error
	if !errors.As(err, &ce) || ce.Result != 700 || !ce.Sticky() || ce.Call != "cuStreamSynchronize" {
		return fmt.Errorf("first wait: %v, want cuStreamSynchronize 700", err)
	}
	if _, err := l.MemAlloc(1024); !errors.As(err, &ce) || ce.Result != 700 {
		return fmt.Errorf("alloc after the fault: %v, want 700 (sticky)", err)
	}
	return nil
}
