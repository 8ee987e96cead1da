package tracer

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func cu(pid uint32, call event.Call, ret bool, f func(*event.CUDA)) *event.CUDA {
	e := &event.CUDA{Header: event.Header{PID: pid}, Call: call, Return: ret}
	if f != nil {
		f(e)
	}
	return e
}

func TestResolverNames(t *testing.T) {
	r := newResolver()
	seq := []*event.CUDA{
		cu(1, event.CallModuleGetFunction, true, func(e *event.CUDA) { e.Handle, e.Kernel = 0x10, "gemm" }),
		cu(1, event.CallModuleGetFunction, true, func(e *event.CUDA) { e.Handle, e.Kernel, e.Result = 0x11, "missing", 500 }),
		cu(1, event.CallLibraryGetKernel, true, func(e *event.CUDA) { e.Handle, e.Kernel = 0x20, "lib_kernel" }),
		cu(1, event.CallKernelGetFunction, true, func(e *event.CUDA) { e.Handle, e.Out = 0x20, 0x21 }),
		cu(1, event.CallKernelGetFunction, true, func(e *event.CUDA) { e.Handle, e.Out = 0x99, 0x10 }), // unknown kernel: 0x10 no longer gemm
	}
	for _, e := range seq {
		r.apply(e)
	}
	if seq[3].Kernel != "lib_kernel" {
		t.Errorf("cuKernelGetFunction of a known kernel: Kernel %q, want lib_kernel", seq[3].Kernel)
	}
	if seq[4].Kernel != "" {
		t.Errorf("cuKernelGetFunction of an unknown kernel: Kernel %q, want empty", seq[4].Kernel)
	}
	for _, tc := range []struct {
		pid    uint32
		handle uint64
		want   string
	}{
		{1, 0x20, "lib_kernel"}, // a CUkernel launched directly
		{1, 0x21, "lib_kernel"}, // its CUfunction
		{1, 0x10, ""},           // reassigned to a kernel looked up before attach
		{1, 0x11, ""},           // failed lookup
		{2, 0x20, ""},           // another process
	} {
		l := cu(tc.pid, event.CallLaunchKernel, false, func(e *event.CUDA) { e.Handle = tc.handle })
		r.apply(l)
		if l.Kernel != tc.want {
			t.Errorf("launch of pid %d handle %#x: Kernel %q, want %q", tc.pid, tc.handle, l.Kernel, tc.want)
		}
	}
	r.forget(1)
	l := cu(1, event.CallLaunchKernelEx, false, func(e *event.CUDA) { e.Handle = 0x20 })
	r.apply(l)
	if l.Kernel != "" {
		t.Errorf("after exec: Kernel %q, want empty", l.Kernel)
	}
}

func TestResolverCapture(t *testing.T) {
	r := newResolver()
	launch := func(pid uint32, stream uint64, call event.Call) bool {
		e := cu(pid, call, false, func(e *event.CUDA) { e.Stream = stream })
		r.apply(e)
		return e.Captured
	}
	r.apply(cu(1, event.CallStreamBeginCapture, true, func(e *event.CUDA) { e.Stream = 7 }))
	r.apply(cu(1, event.CallStreamBeginCapture, true, func(e *event.CUDA) { e.Stream, e.Result = 8, 900 }))
	if !launch(1, 7, event.CallLaunchKernel) || !launch(1, 7, event.CallGraphLaunch) {
		t.Error("launch on the capturing stream not marked")
	}
	if launch(1, 8, event.CallLaunchKernel) || launch(1, 0, event.CallLaunchKernel) || launch(2, 7, event.CallLaunchKernel) {
		t.Error("launch off the capturing stream marked")
	}
	r.apply(cu(1, event.CallStreamEndCapture, true, func(e *event.CUDA) { e.Stream, e.Result = 7, 901 }))
	if launch(1, 7, event.CallLaunchKernel) {
		t.Error("launch after the end of the capture marked")
	}
	r.apply(cu(3, event.CallStreamBeginCapture, true, func(e *event.CUDA) { e.Stream = 7 }))
	r.forget(3)
	if launch(3, 7, event.CallLaunchKernel) {
		t.Error("capture survived exec")
	}
}
