package gpustep

import "github.com/inferprobe/inferprobe/tracer/event"

// proc is the state of one process.
type proc struct {
	pid     uint32
	cfg     *Config
	u       Usage
	errs    [numClasses]uint64
	faulted bool
	faultNS uint64
	kernels kernelTable
	mem     memState
	// names maps CUfunction and CUkernel handles to kernel names, from name lookups.
	names map[uint64]string
	// launched maps the handles of launched kernels to their names and ids.
	launched map[uint64]launched
	// streams capturing a graph (captureKey)
	capture map[captureKey]struct{}
	// ring of recent step intervals, for Window
	spans []span
	head  int // next slot to write once spans is full
}

type launched struct {
	name string
	id   int32
}

type captureKey struct {
	stream uint64
	tid    uint32 // set for the per-thread default stream only
}

// streamPerThread is CU_STREAM_PER_THREAD, the per-thread default stream handle.
const streamPerThread = 0x2

func newProc(pid uint32, cfg *Config) *proc {
	p := &proc{pid: pid, cfg: cfg}
	p.u.PID = pid
	p.kernels.slots = cfg.KernelSlots
	p.mem.limit = cfg.LiveAllocs
	return p
}

func keyOf(stream uint64, tid uint32) captureKey {
	if stream == streamPerThread {
		return captureKey{stream, tid}
	}
	return captureKey{stream: stream}
}

func (p *proc) capturing(stream uint64, tid uint32) bool {
	if len(p.capture) == 0 {
		return false
	}
	_, ok := p.capture[keyOf(stream, tid)]
	return ok
}

// other handles the return record of a call that is neither a launch nor a wait.
func (tr *Tracker) other(th *thread, e *event.CUDA) {
	p := th.proc
	ok := e.Result == Success
	switch e.Call {
	case event.CallMemAlloc, event.CallMemAllocAsync:
		if ok {
			p.mem.alloc(&p.mem.ptrs, e.Out, e.Bytes, e.TS)
		}
	case event.CallMemCreate:
		if ok {
			p.mem.alloc(&p.mem.handles, e.Out, e.Bytes, e.TS)
		}
	case event.CallMemFree, event.CallMemFreeAsync:
		if ok {
			p.mem.free(p.mem.ptrs, e.Addr)
		}
	case event.CallMemRelease:
		if ok {
			h := e.Handle
			if h == 0 {
				h = e.Addr
			}
			p.mem.free(p.mem.handles, h)
		}
	case event.CallModuleGetFunction, event.CallLibraryGetKernel:
		if ok {
			p.name(e.Handle, e.Kernel)
		}
	case event.CallKernelGetFunction:
		if ok {
			name := e.Kernel
			if name == "" {
				name = p.names[e.Handle]
			}
			p.name(e.Out, name)
		}
	case event.CallStreamBeginCapture:
		if ok {
			if p.capture == nil {
				p.capture = make(map[captureKey]struct{})
			}
			p.capture[keyOf(e.Stream, e.TID)] = struct{}{}
		}
	case event.CallStreamEndCapture:
		// the capture ends whether or not it produced a graph
		delete(p.capture, keyOf(e.Stream, e.TID))
	}
}

func (p *proc) name(handle uint64, name string) {
	if handle == 0 || name == "" {
		return
	}
	if p.names == nil {
		p.names = make(map[uint64]string)
	}
	if _, ok := p.names[handle]; !ok && len(p.names) >= p.cfg.NameCache {
		return
	}
	p.names[handle] = name
}
