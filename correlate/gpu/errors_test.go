package gpustep

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestCUresultConstants(t *testing.T) {
	// values from cuda.h, enum cudaError_enum
	for _, c := range []struct {
		got  int32
		want int32
		name string
	}{
		{ErrOutOfMemory, 2, "CUDA_ERROR_OUT_OF_MEMORY"},
		{ErrECCUncorrectable, 214, "CUDA_ERROR_ECC_UNCORRECTABLE"},
		{ErrNotReady, 600, "CUDA_ERROR_NOT_READY"},
		{ErrIllegalAddress, 700, "CUDA_ERROR_ILLEGAL_ADDRESS"},
		{ErrLaunchOutOfResources, 701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
		{ErrLaunchTimeout, 702, "CUDA_ERROR_LAUNCH_TIMEOUT"},
		{ErrHardwareStackError, 714, "CUDA_ERROR_HARDWARE_STACK_ERROR"},
		{ErrLaunchFailed, 719, "CUDA_ERROR_LAUNCH_FAILED"},
		{ErrNotSupported, 801, "CUDA_ERROR_NOT_SUPPORTED"},
		{ErrUnknown, 999, "CUDA_ERROR_UNKNOWN"},
	} {
		if c.got != c.want || ResultName(c.want) != c.name {
			t.Errorf("%s: constant %d, name %q; want %d", c.name, c.got, ResultName(c.want), c.want)
		}
	}
	if n := ResultName(12345); n != "CUresult(12345)" {
		t.Errorf("unlisted result named %q", n)
	}
}

func TestClassify(t *testing.T) {
	for r, want := range map[int32]Class{
		2: ClassOOM, 214: ClassECC, 701: ClassLaunchResources,
		700: ClassStickyFault, 702: ClassStickyFault, 714: ClassStickyFault, 715: ClassStickyFault,
		716: ClassStickyFault, 717: ClassStickyFault, 718: ClassStickyFault, 719: ClassStickyFault,
		1: ClassOther, 703: ClassOther, 713: ClassOther, 720: ClassOther, 999: ClassOther, -1: ClassOther,
	} {
		if got := Classify(r); got != want {
			t.Errorf("Classify(%d) = %s, want %s", r, got, want)
		}
	}
	if IsError(0) || IsError(600) || !IsError(1) || !IsError(700) {
		t.Error("IsError misjudges 0, 600, 1 or 700")
	}
}

func TestErrorsAndSteps(t *testing.T) {
	a := ev{10, 11}
	b := ev{10, 12}
	launchFail := a.kernel(30*ms, "big")
	launchFail.Return, launchFail.Result = true, ErrLaunchOutOfResources
	evs := cat(
		// step 1: an OOM while open, then a clean wait
		a.kernel(1*ms, "k"), a.ret(1*ms+1*us, 1*ms+2*us, event.CallMemAlloc, ErrOutOfMemory),
		a.sync(2*ms, 3*ms),
		// outside any step: NOT_READY is no error, ECC is
		a.ret(4*ms, 4*ms+1*us, event.CallMemcpyAsync, ErrNotReady),
		a.ret(5*ms, 5*ms+1*us, event.CallMemcpyHtoDAsync, ErrECCUncorrectable),
		// another thread's launch return that failed: no launch, no step
		launchFail,
		// step 2 on b, whose wait finds the sticky fault
		b.kernel(31*ms, "k"), b.waitIn(32*ms, event.CallStreamSynchronize),
		b.waitOut(32*ms, 33*ms, event.CallStreamSynchronize, ErrIllegalAddress),
		// a wait with no launch on a: the fault belongs to a's previous step (1)
		a.waitIn(40*ms, event.CallCtxSynchronize), a.waitOut(40*ms, 41*ms, event.CallCtxSynchronize, ErrIllegalAddress),
	)
	tr, c := run(t, Config{}, evs)
	type we struct {
		tid    uint32
		ts     uint64
		call   event.Call
		result int32
		class  Class
		step   uint64
	}
	want := []we{
		{11, 1*ms + 2*us, event.CallMemAlloc, 2, ClassOOM, 1},
		{11, 5*ms + 1*us, event.CallMemcpyHtoDAsync, 214, ClassECC, 0},
		{11, 30 * ms, event.CallLaunchKernel, 701, ClassLaunchResources, 0},
		{12, 33 * ms, event.CallStreamSynchronize, 700, ClassStickyFault, 2},
		{11, 41 * ms, event.CallCtxSynchronize, 700, ClassStickyFault, 1},
	}
	if len(c.Errors) != len(want) {
		t.Fatalf("got %d errors, want %d: %+v", len(c.Errors), len(want), c.Errors)
	}
	for i, w := range want {
		g := c.Errors[i]
		if g.PID != 10 || g.TID != w.tid || g.TS != w.ts || g.Call != w.call || g.Result != w.result || g.Class != w.class || g.StepID != w.step {
			t.Errorf("error %d: got %+v, want %+v", i, g, w)
		}
	}
	if c.Errors[3].Name != "CUDA_ERROR_ILLEGAL_ADDRESS" {
		t.Errorf("name %q", c.Errors[3].Name)
	}
	if len(c.Steps) != 2 || c.Steps[0].Errors != 1 || c.Steps[0].Result != 0 || c.Steps[1].Result != ErrIllegalAddress || c.Steps[1].Errors != 1 {
		t.Errorf("steps %+v", c.Steps)
	}
	u, err := tr.Usage(10)
	if err != nil {
		t.Fatal(err)
	}
	if u.Launches != 2 || !u.Faulted || u.FaultNS != 33*ms {
		t.Errorf("launches %d faulted %v at %d", u.Launches, u.Faulted, u.FaultNS)
	}
	wantCounts := map[Class]uint64{ClassOOM: 1, ClassECC: 1, ClassLaunchResources: 1, ClassStickyFault: 2, ClassOther: 0}
	for cl, n := range wantCounts {
		if u.Errors[cl] != n {
			t.Errorf("errors[%s] = %d, want %d", cl, u.Errors[cl], n)
		}
	}
	if tr.Stats().Errors != 5 {
		t.Errorf("stats errors %d", tr.Stats().Errors)
	}
}
