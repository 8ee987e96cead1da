package gpustep

import (
	"fmt"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestTopKernelsOverflow(t *testing.T) {
	a := ev{1, 1}
	var evs []*event.CUDA
	ts := uint64(1)
	// k0 once, k1 twice ... k5 six times; only 4 slots, so k4 and k5 (first seen last) overflow
	for i := 0; i < 6; i++ {
		for n := 0; n <= i; n++ {
			evs = append(evs, a.kernel(ts, fmt.Sprintf("k%d", i)))
			ts++
		}
	}
	tr, _ := run(t, Config{KernelSlots: 4}, evs)
	got, err := tr.TopKernels(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelCount{{"k3", 4}, {"k2", 3}, {OtherKernels, 1 + 2 + 5 + 6}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("top 2: %v, want %v", got, want)
	}
	all, _ := tr.TopKernels(1, 10)
	var sum uint64
	for _, k := range all {
		sum += k.Count
	}
	if sum != 21 || len(all) != 5 {
		t.Errorf("top 10 %v: sum %d, want 21 over 4 names and other", all, sum)
	}
	if _, err := tr.TopKernels(1, 0); err == nil {
		t.Error("top 0 accepted")
	}
	if _, err := tr.TopKernels(2, 1); err != ErrUnknownPID {
		t.Errorf("unknown pid: %v", err)
	}
}

func TestKernelNamesFromLookups(t *testing.T) {
	a := ev{1, 1}
	lookup := func(c event.Call, handle, out uint64, name string) *event.CUDA {
		e := a.ret(1, 2, c, 0)
		e.Handle, e.Out, e.Kernel = handle, out, name
		return e
	}
	launch := func(ts, handle uint64) *event.CUDA {
		e := a.kernel(ts, "")
		e.Handle = handle
		return e
	}
	tr, c := run(t, Config{}, cat(
		lookup(event.CallModuleGetFunction, 0xf1, 0, "gemm"),
		lookup(event.CallLibraryGetKernel, 0xc1, 0, "softmax"),
		lookup(event.CallKernelGetFunction, 0xc1, 0xf2, ""), // named from the CUkernel
		launch(10, 0xf1), launch(11, 0xf2), launch(12, 0xf2), launch(13, 0xbad),
		a.kernel(14, "named"), a.sync(20, 30),
	))
	want := "[{softmax 2} {gemm 1} {named 1} {unknown 1}]"
	if got := fmt.Sprint(c.Steps[0].Kernels); got != want {
		t.Errorf("step kernels %s, want %s", got, want)
	}
	if got, _ := tr.TopKernels(1, 10); fmt.Sprint(got) != want {
		t.Errorf("process kernels %v, want %s", got, want)
	}
}
