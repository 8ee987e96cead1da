package event

import "fmt"

// Call is a CUDA driver API entry point, whatever its exported variant (_v2, _ptsz...).
// The values are the attach cookies the tracer gives the BPF programs.
type Call uint16

// The calls the tracer probes (design.md, Capture).
const (
	CallUnknown Call = iota
	// launches, entry only
	CallLaunchKernel
	CallLaunchKernelEx
	CallLaunchCooperativeKernel
	CallGraphLaunch
	// blocking waits, entry and return
	CallStreamSynchronize
	CallEventSynchronize
	CallCtxSynchronize
	CallMemcpyDtoH
	CallMemcpyHtoD
	// async copies and events, return
	CallMemcpyAsync
	CallMemcpyDtoHAsync
	CallMemcpyHtoDAsync
	CallEventRecord
	// memory, return
	CallMemAlloc
	CallMemAllocAsync
	CallMemFree
	CallMemFreeAsync
	CallMemCreate
	CallMemMap
	CallMemRelease
	// names, return
	CallModuleGetFunction
	CallLibraryGetKernel
	CallKernelGetFunction
	// graph capture, return
	CallStreamBeginCapture
	CallStreamEndCapture
	CallGraphInstantiate
	numCalls
)

var callNames = [numCalls]string{
	CallUnknown:                 "unknown",
	CallLaunchKernel:            "cuLaunchKernel",
	CallLaunchKernelEx:          "cuLaunchKernelEx",
	CallLaunchCooperativeKernel: "cuLaunchCooperativeKernel",
	CallGraphLaunch:             "cuGraphLaunch",
	CallStreamSynchronize:       "cuStreamSynchronize",
	CallEventSynchronize:        "cuEventSynchronize",
	CallCtxSynchronize:          "cuCtxSynchronize",
	CallMemcpyDtoH:              "cuMemcpyDtoH",
	CallMemcpyHtoD:              "cuMemcpyHtoD",
	CallMemcpyAsync:             "cuMemcpyAsync",
	CallMemcpyDtoHAsync:         "cuMemcpyDtoHAsync",
	CallMemcpyHtoDAsync:         "cuMemcpyHtoDAsync",
	CallEventRecord:             "cuEventRecord",
	CallMemAlloc:                "cuMemAlloc",
	CallMemAllocAsync:           "cuMemAllocAsync",
	CallMemFree:                 "cuMemFree",
	CallMemFreeAsync:            "cuMemFreeAsync",
	CallMemCreate:               "cuMemCreate",
	CallMemMap:                  "cuMemMap",
	CallMemRelease:              "cuMemRelease",
	CallModuleGetFunction:       "cuModuleGetFunction",
	CallLibraryGetKernel:        "cuLibraryGetKernel",
	CallKernelGetFunction:       "cuKernelGetFunction",
	CallStreamBeginCapture:      "cuStreamBeginCapture",
	CallStreamEndCapture:        "cuStreamEndCapture",
	CallGraphInstantiate:        "cuGraphInstantiate",
}

// NumCalls is the number of Call values, CallUnknown included.
const NumCalls = int(numCalls)

func (c Call) String() string {
	if int(c) < len(callNames) {
		return callNames[c]
	}
	return fmt.Sprintf("call(%d)", uint16(c))
}

// ParseCall is the inverse of String.
func ParseCall(s string) (Call, error) {
	for i, n := range callNames {
		if n == s {
			return Call(i), nil
		}
	}
	return CallUnknown, fmt.Errorf("unknown cuda call %q", s)
}

// IsLaunch reports whether the call runs work on the GPU (a kernel or a graph).
func (c Call) IsLaunch() bool { return c >= CallLaunchKernel && c <= CallGraphLaunch }

// IsWait reports whether the call blocks the host until the GPU is done with earlier work.
func (c Call) IsWait() bool { return c >= CallStreamSynchronize && c <= CallMemcpyHtoD }

// SockOp is what a socket syscall did.
type SockOp uint8

const (
	OpRead SockOp = iota + 1
	OpWrite
	OpAccept
	OpClose
	OpConnect
)

var sockOpNames = map[SockOp]string{OpRead: "read", OpWrite: "write", OpAccept: "accept", OpClose: "close", OpConnect: "connect"}

func (o SockOp) String() string {
	if n, ok := sockOpNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Syscall is the syscall a Sock event came from.
type Syscall uint8

const (
	SysRead Syscall = iota + 1
	SysReadv
	SysRecvfrom
	SysRecvmsg
	SysWrite
	SysWritev
	SysSendto
	SysSendmsg
	SysAccept
	SysAccept4
	SysClose
	SysConnect
)

var syscallNames = map[Syscall]string{
	SysRead: "read", SysReadv: "readv", SysRecvfrom: "recvfrom", SysRecvmsg: "recvmsg",
	SysWrite: "write", SysWritev: "writev", SysSendto: "sendto", SysSendmsg: "sendmsg",
	SysAccept: "accept", SysAccept4: "accept4", SysClose: "close", SysConnect: "connect",
}

func (s Syscall) String() string {
	if n, ok := syscallNames[s]; ok {
		return n
	}
	return fmt.Sprintf("syscall(%d)", uint8(s))
}

// Family is a socket address family (the AF_* value).
type Family uint16

const (
	FamilyUnix  Family = 1  // AF_UNIX
	FamilyInet  Family = 2  // AF_INET
	FamilyInet6 Family = 10 // AF_INET6
)

func (f Family) String() string {
	switch f {
	case FamilyUnix:
		return "unix"
	case FamilyInet:
		return "inet"
	case FamilyInet6:
		return "inet6"
	}
	return fmt.Sprintf("af(%d)", uint16(f))
}

// ProcOp is a process lifecycle change.
type ProcOp uint8

const (
	// ProcFound: the tracer found a process to track that was already running.
	ProcFound ProcOp = iota + 1
	// ProcFork: a tracked process forked a new process (PID the child, PPID the parent).
	ProcFork
	// ProcExec: a tracked process exec'd: what it was is gone, the pid lives on.
	ProcExec
	// ProcExit: the whole process is gone. It comes once per process, when its last
	// thread exits; TID is that thread, which need not be the leader (a leader that
	// called pthread_exit leaves first). No event marks a thread's exit.
	ProcExit
)

var procOpNames = map[ProcOp]string{ProcFound: "found", ProcFork: "fork", ProcExec: "exec", ProcExit: "exit"}

func (o ProcOp) String() string {
	if n, ok := procOpNames[o]; ok {
		return n
	}
	return fmt.Sprintf("proc(%d)", uint8(o))
}
