package tracer

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// raw returns the bytes of a wire struct, as the kernel would have written them.
func raw[T any](r *T) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))...)
}

func launchRec() []byte {
	return raw(&cudaCudaLaunchRec{
		Tag: uint32(cudaRecTagREC_CUDA_LAUNCH), Call: uint16(event.CallLaunchKernel),
		Pid: 100, Tid: 101, Ts: 5000, Handle: 0xf00, Stream: 0x5700,
		Grid: [3]uint32{8, 2, 1}, Block: [3]uint32{128, 1, 1},
	})
}

func callRec(call event.Call, ret uint8, result int32) []byte {
	return raw(&cudaCudaRec{
		Tag: uint32(cudaRecTagREC_CUDA_CALL), Call: uint16(call), Ret: ret,
		Pid: 100, Tid: 102, Ts: 9000, Start: 7000, Stream: 2, Handle: 0xe0, Out: 0xd0,
		Bytes: 1 << 20, Addr: 0xa000, Graph: 0x9000, Result: result,
	})
}

func nameRec(call event.Call, name string) []byte {
	r := cudaCudaNameRec{C: cudaCudaRec{
		Tag: uint32(cudaRecTagREC_CUDA_NAME), Call: uint16(call), Ret: 1,
		Pid: 100, Tid: 103, Ts: 300, Start: 200, Handle: 0xf00,
	}, NameLen: uint32(len(name))}
	for i := range len(name) {
		r.Name[i] = int8(name[i])
	}
	return raw(&r)
}

func sockRec(op, sys uint8, ret int64, data, tail string) []byte {
	h := sockSockRec{
		Tag: uint32(cudaRecTagREC_SOCK), Op: op, Sys: sys, Family: 2, Pid: 200, Tid: 201,
		Ts: 800, Start: 700, Conn: 0xc0c0, Listener: 0, Ret: ret, Fd: 7, Lport: 8000, Rport: 50123,
		DataLen: uint32(len(data)), TailLen: uint32(len(tail)),
	}
	return append(append(raw(&h), data...), tail...)
}

func procRec(op procProcOp, comm string, code int32) []byte {
	r := procProcRec{Tag: uint32(cudaRecTagREC_PROC), Op: uint8(op), Pid: 300, Tid: 301, Ppid: 1, Code: code, Ts: 50, StartNs: 40}
	for i := range len(comm) {
		r.Comm[i] = int8(comm[i])
	}
	return raw(&r)
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want event.Event
	}{
		{"launch", launchRec(), &event.CUDA{
			Header: event.Header{TS: 5000, PID: 100, TID: 101}, Call: event.CallLaunchKernel, Start: 5000,
			Stream: 0x5700, Handle: 0xf00, Grid: [3]uint32{8, 2, 1}, Block: [3]uint32{128, 1, 1},
		}},
		{"wait entry", callRec(event.CallStreamSynchronize, 0, 0), &event.CUDA{
			Header: event.Header{TS: 9000, PID: 100, TID: 102}, Call: event.CallStreamSynchronize, Start: 7000,
			Stream: 2, Handle: 0xe0, Out: 0xd0, Bytes: 1 << 20, Addr: 0xa000, Graph: 0x9000,
		}},
		{"alloc return oom", callRec(event.CallMemAlloc, 1, 2), &event.CUDA{
			Header: event.Header{TS: 9000, PID: 100, TID: 102}, Call: event.CallMemAlloc, Return: true, Start: 7000,
			Result: 2, Stream: 2, Handle: 0xe0, Out: 0xd0, Bytes: 1 << 20, Addr: 0xa000, Graph: 0x9000,
		}},
		{"name", nameRec(event.CallModuleGetFunction, "_Z6kernelPf"), &event.CUDA{
			Header: event.Header{TS: 300, PID: 100, TID: 103}, Call: event.CallModuleGetFunction, Return: true,
			Start: 200, Handle: 0xf00, Kernel: "_Z6kernelPf",
		}},
		{"read with tail", sockRec(1, 3, 9000, "POST /v1/completions", "usage"), &event.Sock{
			Header: event.Header{TS: 800, PID: 200, TID: 201}, Start: 700, Op: event.OpRead, Syscall: event.SysRecvfrom,
			FD: 7, Conn: 0xc0c0, Family: event.FamilyInet, LocalPort: 8000, RemotePort: 50123, Ret: 9000,
			Data: []byte("POST /v1/completions"), Tail: []byte("usage"),
		}},
		{"close", sockRec(4, 11, 0, "", ""), &event.Sock{
			Header: event.Header{TS: 800, PID: 200, TID: 201}, Start: 700, Op: event.OpClose, Syscall: event.SysClose,
			FD: 7, Conn: 0xc0c0, Family: event.FamilyInet, LocalPort: 8000, RemotePort: 50123,
		}},
		{"exit", procRec(procProcOpPROC_OP_EXIT, "python3", 256), &event.Proc{
			Header: event.Header{TS: 50, PID: 300, TID: 301}, Op: event.ProcExit, PPID: 1, Code: 256, Comm: "python3", StartNS: 40,
		}},
		{"fork, full comm", procRec(procProcOpPROC_OP_FORK, "0123456789abcdef", 0), &event.Proc{
			Header: event.Header{TS: 50, PID: 300, TID: 301}, Op: event.ProcFork, PPID: 1, Comm: "0123456789abcdef", StartNS: 40,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := sockRec(2, 5, 5, "hello", "")
	e, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[sizeSock:], "xxxxx")
	if got := string(e.(*event.Sock).Data); got != "hello" {
		t.Errorf("data changed with the record: %q", got)
	}
	n, err := Decode(nameRec(event.CallLibraryGetKernel, "k"))
	if err != nil || n.(*event.CUDA).Kernel != "k" {
		t.Fatalf("name record: %v %v", n, err)
	}
}

func TestDecodeTruncated(t *testing.T) {
	for name, b := range map[string][]byte{
		"launch": launchRec(), "call": callRec(event.CallMemFree, 1, 0), "name": nameRec(event.CallModuleGetFunction, "k"),
		"sock": sockRec(1, 1, 10, "0123456789", ""), "sock tail": sockRec(1, 1, 5000, "head", "tail"),
		"proc": procRec(procProcOpPROC_OP_EXEC, "x", 0),
	} {
		for n := range len(b) {
			if _, err := Decode(b[:n]); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut to %d of %d bytes: err %v, want ErrTruncated", name, n, len(b), err)
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	unknown := launchRec()
	unknown[0] = 99
	zero := launchRec()
	zero[0] = 0
	badCall := callRec(event.Call(event.NumCalls), 1, 0)
	noCall := callRec(event.CallUnknown, 1, 0)
	waitAsLaunch := launchRec()
	waitAsLaunch[4] = byte(event.CallStreamSynchronize)
	entryOfAlloc := callRec(event.CallMemAlloc, 0, 0) // only waits have entry records
	ret2 := callRec(event.CallMemFree, 2, 0)
	nameOfFree := nameRec(event.CallMemFree, "x")
	longName := nameRec(event.CallModuleGetFunction, "x")
	copy(longName[sizeCall:], []byte{0, 4, 0, 0}) // name_len 1024
	badOp := sockRec(9, 1, 0, "", "")
	badSys := sockRec(1, 13, 0, "", "")
	bigData := sockRec(1, 1, 0, "", "")
	bigData[sizeSock-8] = 0x01
	bigData[sizeSock-7] = 0x10 // data_len 4097
	badProc := procRec(procProcOp(1), "x", 0)
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"unknown tag": {unknown, ErrUnknownTag}, "tag 0": {zero, ErrUnknownTag},
		"call out of range": {badCall, ErrBadRecord}, "call 0": {noCall, ErrBadRecord},
		"wait as launch": {waitAsLaunch, ErrBadRecord}, "entry of alloc": {entryOfAlloc, ErrBadRecord},
		"ret 2": {ret2, ErrBadRecord}, "name of free": {nameOfFree, ErrBadRecord}, "long name": {longName, ErrBadRecord},
		"sock op": {badOp, ErrBadRecord}, "sock syscall": {badSys, ErrBadRecord}, "data 4097": {bigData, ErrBadRecord},
		"proc op found": {badProc, ErrBadRecord},
	} {
		if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
}

// The record layouts the C headers document, and the enum values Go and C share.
func TestWireContract(t *testing.T) {
	for name, got := range map[string]int{"cuda_launch_rec": sizeLaunch, "cuda_rec": sizeCall, "sock_rec": sizeSock, "proc_rec": sizeProc} {
		want := map[string]int{"cuda_launch_rec": 64, "cuda_rec": 88, "sock_rec": 72, "proc_rec": 56}[name]
		if got != want {
			t.Errorf("sizeof(struct %s) = %d, want %d", name, got, want)
		}
	}
	if got, want := len(cudaCudaNameRec{}.Name), int(cudaCudaLimitsCUDA_NAME_MAX); got != want {
		t.Errorf("cuda_name_rec name has %d bytes, CUDA_NAME_MAX is %d", got, want)
	}
	if got, want := len(sockSockScratch{}.Buf), 2*sockPayloadMax; got != want {
		t.Errorf("sock scratch holds %d bytes, want 2*SOCK_PAYLOAD_MAX = %d", got, want)
	}
	calls := map[cudaCudaCall]event.Call{}
	for c := cudaCudaCallCALL_LAUNCH_KERNEL; c <= cudaCudaCallCALL_GRAPH_INSTANTIATE; c++ {
		calls[c] = event.Call(c)
	}
	if len(calls) != event.NumCalls-1 {
		t.Errorf("enum cuda_call has %d calls, event has %d", len(calls), event.NumCalls-1)
	}
	// Each C name, CamelCased, is the Go name less its "cu" prefix.
	for c := range calls {
		cname := strings.TrimPrefix(cudaCallName(c), "CALL_")
		goName := strings.ToUpper(strings.TrimPrefix(event.Call(c).String(), "cu"))
		if strings.ReplaceAll(cname, "_", "") != goName {
			t.Errorf("C %s = %d, but event.Call(%d) is %v", cname, c, c, event.Call(c))
		}
	}
	for _, p := range []struct {
		c    uint8
		want string
	}{
		{uint8(sockSockOpSOCK_OP_READ), event.OpRead.String()}, {uint8(sockSockOpSOCK_OP_WRITE), event.OpWrite.String()},
		{uint8(sockSockOpSOCK_OP_ACCEPT), event.OpAccept.String()}, {uint8(sockSockOpSOCK_OP_CLOSE), event.OpClose.String()},
		{uint8(sockSockOpSOCK_OP_CONNECT), event.OpConnect.String()},
	} {
		if got := event.SockOp(p.c).String(); got != p.want {
			t.Errorf("sock_op %d is %s in Go, want %s", p.c, got, p.want)
		}
	}
	sys := map[sockSockSys]string{
		sockSockSysSYS_READ: "read", sockSockSysSYS_READV: "readv", sockSockSysSYS_RECVFROM: "recvfrom",
		sockSockSysSYS_RECVMSG: "recvmsg", sockSockSysSYS_WRITE: "write", sockSockSysSYS_WRITEV: "writev",
		sockSockSysSYS_SENDTO: "sendto", sockSockSysSYS_SENDMSG: "sendmsg", sockSockSysSYS_ACCEPT: "accept",
		sockSockSysSYS_ACCEPT4: "accept4", sockSockSysSYS_CLOSE: "close", sockSockSysSYS_CONNECT: "connect",
	}
	for c, want := range sys {
		if got := event.Syscall(c).String(); got != want {
			t.Errorf("sock_sys %d is %s in Go, want %s", c, got, want)
		}
	}
	for c, want := range map[procProcOp]event.ProcOp{
		procProcOpPROC_OP_FORK: event.ProcFork, procProcOpPROC_OP_EXEC: event.ProcExec, procProcOpPROC_OP_EXIT: event.ProcExit,
	} {
		if event.ProcOp(c) != want {
			t.Errorf("proc_op %d, event %v", c, want)
		}
	}
	if cudaCookieFlagsCOOKIE_CALL_MASK < cudaCookieFlags(event.NumCalls) {
		t.Errorf("COOKIE_CALL_MASK %#x cannot hold %d calls", cudaCookieFlagsCOOKIE_CALL_MASK, event.NumCalls)
	}
}

// cudaCallName is the C enumerator of c, spelled from the generated constant's name.
func cudaCallName(c cudaCudaCall) string {
	names := map[cudaCudaCall]string{
		cudaCudaCallCALL_LAUNCH_KERNEL: "CALL_LAUNCH_KERNEL", cudaCudaCallCALL_LAUNCH_KERNEL_EX: "CALL_LAUNCH_KERNEL_EX",
		cudaCudaCallCALL_LAUNCH_COOPERATIVE_KERNEL: "CALL_LAUNCH_COOPERATIVE_KERNEL", cudaCudaCallCALL_GRAPH_LAUNCH: "CALL_GRAPH_LAUNCH",
		cudaCudaCallCALL_STREAM_SYNCHRONIZE: "CALL_STREAM_SYNCHRONIZE", cudaCudaCallCALL_EVENT_SYNCHRONIZE: "CALL_EVENT_SYNCHRONIZE",
		cudaCudaCallCALL_CTX_SYNCHRONIZE: "CALL_CTX_SYNCHRONIZE", cudaCudaCallCALL_MEMCPY_DTOH: "CALL_MEMCPY_DTOH",
		cudaCudaCallCALL_MEMCPY_HTOD: "CALL_MEMCPY_HTOD", cudaCudaCallCALL_MEMCPY_ASYNC: "CALL_MEMCPY_ASYNC",
		cudaCudaCallCALL_MEMCPY_DTOH_ASYNC: "CALL_MEMCPY_DTOH_ASYNC", cudaCudaCallCALL_MEMCPY_HTOD_ASYNC: "CALL_MEMCPY_HTOD_ASYNC",
		cudaCudaCallCALL_EVENT_RECORD: "CALL_EVENT_RECORD", cudaCudaCallCALL_MEM_ALLOC: "CALL_MEM_ALLOC",
		cudaCudaCallCALL_MEM_ALLOC_ASYNC: "CALL_MEM_ALLOC_ASYNC", cudaCudaCallCALL_MEM_FREE: "CALL_MEM_FREE",
		cudaCudaCallCALL_MEM_FREE_ASYNC: "CALL_MEM_FREE_ASYNC", cudaCudaCallCALL_MEM_CREATE: "CALL_MEM_CREATE",
		cudaCudaCallCALL_MEM_MAP: "CALL_MEM_MAP", cudaCudaCallCALL_MEM_RELEASE: "CALL_MEM_RELEASE",
		cudaCudaCallCALL_MODULE_GET_FUNCTION: "CALL_MODULE_GET_FUNCTION", cudaCudaCallCALL_LIBRARY_GET_KERNEL: "CALL_LIBRARY_GET_KERNEL",
		cudaCudaCallCALL_KERNEL_GET_FUNCTION: "CALL_KERNEL_GET_FUNCTION", cudaCudaCallCALL_STREAM_BEGIN_CAPTURE: "CALL_STREAM_BEGIN_CAPTURE",
		cudaCudaCallCALL_STREAM_END_CAPTURE: "CALL_STREAM_END_CAPTURE", cudaCudaCallCALL_GRAPH_INSTANTIATE: "CALL_GRAPH_INSTANTIATE",
	}
	return names[c]
}
