package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// Launch is one kernel launch of a list. Its layout is that of the C record the list
// helper reads (checked by a test), so a []Launch crosses into C without copying.
type Launch struct {
	Func                   Function
	GridX, GridY, GridZ    uint32
	BlockX, BlockY, BlockZ uint32
	SharedMem              uint32
}

// LaunchKernel calls cuLaunchKernel (cuLaunchKernel_ptsz with per-thread streams) with
// no kernel parameters.
func (l *Lib) LaunchKernel(k Launch, s Stream) error {
	f, name, err := l.pick(symLaunchKernel, symLaunchKernelPtsz)
	if err != nil {
		return err
	}
	r := C.ip_launch(f, C.uintptr_t(k.Func), C.uint(k.GridX), C.uint(k.GridY), C.uint(k.GridZ),
		C.uint(k.BlockX), C.uint(k.BlockY), C.uint(k.BlockZ), C.uint(k.SharedMem), C.uintptr_t(s))
	return check(name, int(r))
}

// LaunchKernels launches every kernel of ks on s in one cgo crossing: each one is a real
// call of cuLaunchKernel (or _ptsz) through the resolved pointer, in order. It stops at
// the first error, which names the index of the launch that failed.
func (l *Lib) LaunchKernels(ks []Launch, s Stream) error {
	if len(ks) == 0 {
		return nil
	}
	f, name, err := l.pick(symLaunchKernel, symLaunchKernelPtsz)
	if err != nil {
		return err
	}
	var failed C.int
	r := C.ip_launch_list(f, (*C.ip_launch_rec)(unsafe.Pointer(&ks[0])), C.int(len(ks)), C.uintptr_t(s), &failed)
	if err := check(name, int(r)); err != nil {
		return fmt.Errorf("launch %d of %d: %w", int(failed), len(ks), err)
	}
	return nil
}

// LaunchKernelsAt is LaunchKernels that also returns the CLOCK_MONOTONIC time (ns) read
// in C just before the first launch.
func (l *Lib) LaunchKernelsAt(ks []Launch, s Stream) (uint64, error) {
	if len(ks) == 0 {
		return 0, nil
	}
	f, name, err := l.pick(symLaunchKernel, symLaunchKernelPtsz)
	if err != nil {
		return 0, err
	}
	var failed C.int
	var t C.uint64_t
	r := C.ip_launch_list_at(f, (*C.ip_launch_rec)(unsafe.Pointer(&ks[0])), C.int(len(ks)), C.uintptr_t(s), &failed, &t)
	if err := check(name, int(r)); err != nil {
		return uint64(t), fmt.Errorf("launch %d of %d: %w", int(failed), len(ks), err)
	}
	return uint64(t), nil
}

// StreamBeginCapture calls cuStreamBeginCapture_v2: launches on s are recorded into a
// graph instead of running.
func (l *Lib) StreamBeginCapture(s Stream, mode CaptureMode) error {
	f, name, err := l.pick(symStreamBeginCapture, symStreamBeginCapturePtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_begin_capture(f, C.uintptr_t(s), C.int(mode))))
}

// StreamEndCapture calls cuStreamEndCapture and returns the captured graph.
func (l *Lib) StreamEndCapture(s Stream) (Graph, error) {
	f, name, err := l.pick(symStreamEndCapture, symStreamEndCapturePtsz)
	if err != nil {
		return 0, err
	}
	var g C.uintptr_t
	r := C.ip_end_capture(f, C.uintptr_t(s), &g)
	return Graph(g), check(name, int(r))
}

// GraphInstantiate calls cuGraphInstantiateWithFlags.
func (l *Lib) GraphInstantiate(g Graph, flags uint64) (GraphExec, error) {
	f, err := l.fnOf(symGraphInstantiateWithFlags)
	if err != nil {
		return 0, err
	}
	var e C.uintptr_t
	r := C.ip_graph_instantiate(f, &e, C.uintptr_t(g), C.ulonglong(flags))
	return GraphExec(e), check(symNames[symGraphInstantiateWithFlags], int(r))
}

// GraphLaunch calls cuGraphLaunch (cuGraphLaunch_ptsz with per-thread streams).
func (l *Lib) GraphLaunch(e GraphExec, s Stream) error {
	f, name, err := l.pick(symGraphLaunch, symGraphLaunchPtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_graph_launch(f, C.uintptr_t(e), C.uintptr_t(s))))
}

// GraphLaunchAt is GraphLaunch that also returns the time read just before the call.
func (l *Lib) GraphLaunchAt(e GraphExec, s Stream) (uint64, error) {
	f, name, err := l.pick(symGraphLaunch, symGraphLaunchPtsz)
	if err != nil {
		return 0, err
	}
	var t C.uint64_t
	r := C.ip_graph_launch_at(f, C.uintptr_t(e), C.uintptr_t(s), &t)
	return uint64(t), check(name, int(r))
}

// launchRecLayout is the C record's size and the offsets of its first and last fields,
// for the test that keeps Launch in step with it.
func launchRecLayout() (size, fn, shmem uintptr) {
	var r C.ip_launch_rec
	return unsafe.Sizeof(r), unsafe.Offsetof(r.fn), unsafe.Offsetof(r.shmem)
}
