package tracer

import "github.com/inferprobe/inferprobe/tracer/event"

// resolver carries the per-process state that turns launch records into what they mean:
// the kernel name behind a CUfunction or CUkernel handle, learned from the name lookups
// seen while attached, and which streams are capturing a graph. A process's state is
// dropped when it execs or exits, so a handle never resolves to a name from an older
// image: an unknown handle resolves to "".
type resolver struct {
	names     map[uint32]map[uint64]string
	capturing map[streamKey]bool
}

type streamKey struct {
	pid    uint32
	stream uint64
}

func newResolver() *resolver {
	return &resolver{names: make(map[uint32]map[uint64]string), capturing: make(map[streamKey]bool)}
}

// apply updates the state from e and fills e's Kernel and Captured.
func (r *resolver) apply(e *event.CUDA) {
	switch e.Call {
	case event.CallLaunchKernel, event.CallLaunchKernelEx, event.CallLaunchCooperativeKernel:
		e.Kernel = r.names[e.PID][e.Handle]
		e.Captured = r.capturing[streamKey{e.PID, e.Stream}]
	case event.CallGraphLaunch:
		e.Captured = r.capturing[streamKey{e.PID, e.Stream}]
	case event.CallModuleGetFunction, event.CallLibraryGetKernel:
		if e.Return && e.Result == 0 && e.Handle != 0 && e.Kernel != "" {
			r.set(e.PID, e.Handle, e.Kernel)
		}
	case event.CallKernelGetFunction:
		if !e.Return || e.Result != 0 {
			return
		}
		name := r.names[e.PID][e.Handle]
		e.Kernel = name
		switch {
		case e.Out == 0:
		case name != "":
			r.set(e.PID, e.Out, name)
		default:
			delete(r.names[e.PID], e.Out) // a function of a kernel looked up before attach
		}
	case event.CallStreamBeginCapture:
		if e.Return && e.Result == 0 {
			r.capturing[streamKey{e.PID, e.Stream}] = true
		}
	case event.CallStreamEndCapture:
		if e.Return {
			delete(r.capturing, streamKey{e.PID, e.Stream})
		}
	}
}

func (r *resolver) set(pid uint32, handle uint64, name string) {
	m := r.names[pid]
	if m == nil {
		m = make(map[uint64]string)
		r.names[pid] = m
	}
	m[handle] = name
}

// forget drops everything known about pid (exec, exit).
func (r *resolver) forget(pid uint32) {
	delete(r.names, pid)
	for k := range r.capturing {
		if k.pid == pid {
			delete(r.capturing, k)
		}
	}
}
