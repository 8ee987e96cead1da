package event

// Event is one decoded record: a *CUDA, *Sock or *Proc.
type Event interface {
	// Hdr returns the common header of the event.
	Hdr() *Header
}

// Header is common to every event.
type Header struct {
	TS  uint64 `json:"ts"`  // CLOCK_MONOTONIC ns when the record was emitted
	PID uint32 `json:"pid"` // thread group id (the process)
	TID uint32 `json:"tid"` // thread id
}

// Hdr implements Event.
func (h *Header) Hdr() *Header { return h }

// CUDA is a call into the CUDA driver API (libcuda) of a tracked process.
//
// Launches are entry-only records (Return false, Start == TS). Waits emit an entry
// record when they begin (so a wait that never returns is visible while it is stuck) and
// a return record when they end. Copies, memory, names and graph capture emit a return
// record only. Return records carry Start (entry time) and Result.
type CUDA struct {
	Header
	Call   Call   `json:"call"`
	Return bool   `json:"ret,omitempty"`    // a return record
	Start  uint64 `json:"start"`            // entry time; equals TS on entry records
	Result int32  `json:"result,omitempty"` // CUresult of a return record (0 = CUDA_SUCCESS)

	// Stream is the CUstream the call was made on (0 = legacy default stream,
	// 2 = per-thread default stream, which the _ptsz variants imply).
	Stream uint64 `json:"stream,omitempty"`
	// Handle is the object the call is about: the CUfunction (or CUkernel) of a launch or
	// name lookup, the CUgraphExec of a graph launch or instantiation, the CUevent of an
	// event record or synchronize, the CUkernel of cuKernelGetFunction's input.
	Handle uint64 `json:"handle,omitempty"`
	// Kernel is the kernel name: for name lookups the name looked up, for launches the
	// name resolved from Handle ("" when the handle was created before the tracer attached).
	Kernel string `json:"kernel,omitempty"`
	// Out is a handle a call produced: cuKernelGetFunction's CUfunction, cuMemAlloc's
	// device pointer, cuMemCreate's allocation handle, cuStreamEndCapture's CUgraph.
	Out   uint64    `json:"out,omitempty"`
	Grid  [3]uint32 `json:"grid,omitempty"`
	Block [3]uint32 `json:"block,omitempty"`
	// Bytes is the size of a copy or an allocation.
	Bytes uint64 `json:"bytes,omitempty"`
	// Addr is the device address of a free, map or copy source/destination.
	Addr uint64 `json:"addr,omitempty"`
	// Graph is the CUgraph a cuGraphInstantiate instantiated (cuStreamEndCapture's Out),
	// so a graph launch's Handle leads back to the capture that built it.
	Graph uint64 `json:"graph,omitempty"`
	// Captured marks a launch made while its stream was capturing a graph: it records
	// work into the graph and is not an execution.
	Captured bool `json:"captured,omitempty"`
}

// Duration is the time spent in the call, or 0 for entry records.
func (c *CUDA) Duration() uint64 {
	if !c.Return {
		return 0
	}
	return c.TS - c.Start
}

// Sock is one socket syscall of a tracked process, emitted when the syscall returns.
type Sock struct {
	Header
	Start   uint64  `json:"start"` // syscall entry time
	Op      SockOp  `json:"op"`
	Syscall Syscall `json:"syscall"`
	FD      int32   `json:"fd"`
	// Conn identifies the connection for its lifetime (the kernel's socket object);
	// reads and writes on one connection share it, whatever the fd or process.
	Conn uint64 `json:"conn"`
	// Listener is the listening socket an accepted connection came from (Accept only).
	Listener uint64 `json:"listener,omitempty"`
	Family   Family `json:"family"`
	// LocalPort and RemotePort are the TCP/UDP ports (0 for unix sockets).
	LocalPort  uint16 `json:"lport,omitempty"`
	RemotePort uint16 `json:"rport,omitempty"`
	// Ret is the syscall's return value: bytes moved, the new fd of an accept, or -errno.
	Ret int64 `json:"ret"`
	// Data is the first bytes moved (at most the capture knob), never exported.
	Data []byte `json:"data,omitempty"`
	// Tail is the last bytes moved when the call moved more than Data holds (it does not
	// overlap Data), so that a trailer such as a response's usage is still seen.
	Tail []byte `json:"tail,omitempty"`
}

// Proc is a process lifecycle event of a tracked process, or the discovery of one.
type Proc struct {
	Header
	Op   ProcOp `json:"op"`
	PPID uint32 `json:"ppid,omitempty"`
	// Code is the exit code (Exit only): the status as wait(2) encodes it.
	Code int32  `json:"code,omitempty"`
	Comm string `json:"comm,omitempty"`
	// Cgroup is the process's cgroup v2 path ("" when unknown).
	Cgroup string `json:"cgroup,omitempty"`
	// Container is the container id parsed from Cgroup ("" outside containers).
	Container string `json:"container,omitempty"`
	// StartNS is the process start time in CLOCK_MONOTONIC ns (Exec and Found).
	StartNS uint64 `json:"start_ns,omitempty"`
	// Libcuda is the path of the libcuda the process maps, as the process sees it.
	Libcuda string `json:"libcuda,omitempty"`
	// Listen lists the sockets the process was listening on when found (Found only),
	// as "tcp:PORT", "tcp6:PORT" or "unix:PATH": it marks a serving unit's front end.
	Listen []string `json:"listen,omitempty"`
}
