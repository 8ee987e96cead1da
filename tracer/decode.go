package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Records are decoded through the bpf2go declarations of the C structs (the -type output
// in *_bpfel.go), viewed in place over the record's bytes after a length check. The
// decoders are pure: bytes in, event out, nothing kept.

// Record sizes, from the generated declarations.
var (
	sizeLaunch = int(unsafe.Sizeof(cudaCudaLaunchRec{}))
	sizeCall   = int(unsafe.Sizeof(cudaCudaRec{}))
	sizeName   = int(unsafe.Sizeof(cudaCudaNameRec{}))
	sizeSock   = int(unsafe.Sizeof(sockSockRec{}))
	sizeProc   = int(unsafe.Sizeof(procProcRec{}))
)

// Limits of the C headers (bpf2go -type of their enums).
const (
	sockPayloadMax = int(sockSockLimitsSOCK_PAYLOAD_MAX)
	sockTailMax    = int(sockSockLimitsSOCK_TAIL_MAX)
)

var (
	// ErrTruncated reports a record shorter than its type's struct (or its payload).
	ErrTruncated = errors.New("truncated record")
	// ErrUnknownTag reports a record whose tag is no enum rec_tag value.
	ErrUnknownTag = errors.New("unknown record tag")
	// ErrBadRecord reports a field out of its range.
	ErrBadRecord = errors.New("bad record")
)

// Decode turns one ring-buffer record into its event. The event never aliases b.
func Decode(b []byte) (event.Event, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("record of %d bytes: %w", len(b), ErrTruncated)
	}
	switch tag := cudaRecTag(binary.LittleEndian.Uint32(b)); tag {
	case cudaRecTagREC_CUDA_LAUNCH:
		return decodeLaunch(b)
	case cudaRecTagREC_CUDA_CALL:
		return decodeCall(b)
	case cudaRecTagREC_CUDA_NAME:
		return decodeName(b)
	case cudaRecTagREC_SOCK:
		return decodeSock(b)
	case cudaRecTagREC_PROC:
		return decodeProc(b)
	default:
		return nil, fmt.Errorf("tag %d: %w", uint32(tag), ErrUnknownTag)
	}
}

func checkLen(b []byte, want int, what string) error {
	if len(b) < want {
		return fmt.Errorf("%s record of %d bytes, want %d: %w", what, len(b), want, ErrTruncated)
	}
	return nil
}

func checkCall(c uint16, what string) (event.Call, error) {
	if c == 0 || int(c) >= event.NumCalls {
		return 0, fmt.Errorf("%s record: call %d: %w", what, c, ErrBadRecord)
	}
	return event.Call(c), nil
}

func decodeLaunch(b []byte) (event.Event, error) {
	if err := checkLen(b, sizeLaunch, "launch"); err != nil {
		return nil, err
	}
	r := (*cudaCudaLaunchRec)(unsafe.Pointer(&b[0]))
	call, err := checkCall(r.Call, "launch")
	if err != nil {
		return nil, err
	}
	if !call.IsLaunch() {
		return nil, fmt.Errorf("launch record: %v is no launch: %w", call, ErrBadRecord)
	}
	return &event.CUDA{
		Header: event.Header{TS: r.Ts, PID: r.Pid, TID: r.Tid},
		Call:   call,
		Start:  r.Ts,
		Stream: r.Stream,
		Handle: r.Handle,
		Grid:   r.Grid,
		Block:  r.Block,
	}, nil
}

func callEvent(r *cudaCudaRec, what string) (*event.CUDA, error) {
	call, err := checkCall(r.Call, what)
	if err != nil {
		return nil, err
	}
	if r.Ret > 1 || r.Ret == 0 && !call.IsWait() {
		return nil, fmt.Errorf("%s record: ret %d for %v: %w", what, r.Ret, call, ErrBadRecord)
	}
	return &event.CUDA{
		Header: event.Header{TS: r.Ts, PID: r.Pid, TID: r.Tid},
		Call:   call,
		Return: r.Ret == 1,
		Start:  r.Start,
		Result: r.Result,
		Stream: r.Stream,
		Handle: r.Handle,
		Out:    r.Out,
		Bytes:  r.Bytes,
		Addr:   r.Addr,
		Graph:  r.Graph,
	}, nil
}

func decodeCall(b []byte) (event.Event, error) {
	if err := checkLen(b, sizeCall, "cuda call"); err != nil {
		return nil, err
	}
	e, err := callEvent((*cudaCudaRec)(unsafe.Pointer(&b[0])), "cuda call")
	if err != nil {
		return nil, err
	}
	return e, nil
}

func decodeName(b []byte) (event.Event, error) {
	if err := checkLen(b, sizeName, "cuda name"); err != nil {
		return nil, err
	}
	r := (*cudaCudaNameRec)(unsafe.Pointer(&b[0]))
	e, err := callEvent(&r.C, "cuda name")
	if err != nil {
		return nil, err
	}
	if !e.Return || e.Call != event.CallModuleGetFunction && e.Call != event.CallLibraryGetKernel {
		return nil, fmt.Errorf("cuda name record for %v: %w", e.Call, ErrBadRecord)
	}
	n := int(r.NameLen)
	if n >= len(r.Name) {
		return nil, fmt.Errorf("cuda name record: name of %d bytes: %w", n, ErrBadRecord)
	}
	e.Kernel = string(unsafe.Slice((*byte)(unsafe.Pointer(&r.Name[0])), n))
	return e, nil
}

func decodeSock(b []byte) (event.Event, error) {
	if err := checkLen(b, sizeSock, "sock"); err != nil {
		return nil, err
	}
	r := (*sockSockRec)(unsafe.Pointer(&b[0]))
	if r.Op < uint8(sockSockOpSOCK_OP_READ) || r.Op > uint8(sockSockOpSOCK_OP_CONNECT) ||
		r.Sys < uint8(sockSockSysSYS_READ) || r.Sys > uint8(sockSockSysSYS_CONNECT) {
		return nil, fmt.Errorf("sock record: op %d syscall %d: %w", r.Op, r.Sys, ErrBadRecord)
	}
	if int(r.DataLen) > sockPayloadMax || int(r.TailLen) > sockTailMax {
		return nil, fmt.Errorf("sock record: payload %d+%d bytes: %w", r.DataLen, r.TailLen, ErrBadRecord)
	}
	dl, tl := int(r.DataLen), int(r.TailLen)
	if err := checkLen(b, sizeSock+dl+tl, "sock"); err != nil {
		return nil, err
	}
	e := &event.Sock{
		Header:     event.Header{TS: r.Ts, PID: r.Pid, TID: r.Tid},
		Start:      r.Start,
		Op:         event.SockOp(r.Op),
		Syscall:    event.Syscall(r.Sys),
		FD:         r.Fd,
		Conn:       r.Conn,
		Listener:   r.Listener,
		Family:     event.Family(r.Family),
		LocalPort:  r.Lport,
		RemotePort: r.Rport,
		Ret:        r.Ret,
	}
	if dl+tl > 0 {
		// One allocation for both; Data and Tail are capped so neither grows into the other.
		p := make([]byte, dl+tl)
		copy(p, b[sizeSock:sizeSock+dl+tl])
		if dl > 0 {
			e.Data = p[:dl:dl]
		}
		if tl > 0 {
			e.Tail = p[dl:]
		}
	}
	return e, nil
}

func decodeProc(b []byte) (event.Event, error) {
	if err := checkLen(b, sizeProc, "proc"); err != nil {
		return nil, err
	}
	r := (*procProcRec)(unsafe.Pointer(&b[0]))
	switch procProcOp(r.Op) {
	case procProcOpPROC_OP_FORK, procProcOpPROC_OP_EXEC, procProcOpPROC_OP_EXIT:
	default:
		return nil, fmt.Errorf("proc record: op %d: %w", r.Op, ErrBadRecord)
	}
	comm := unsafe.Slice((*byte)(unsafe.Pointer(&r.Comm[0])), len(r.Comm))
	for i, c := range comm {
		if c == 0 {
			comm = comm[:i]
			break
		}
	}
	return &event.Proc{
		Header:  event.Header{TS: r.Ts, PID: r.Pid, TID: r.Tid},
		Op:      event.ProcOp(r.Op),
		PPID:    r.Ppid,
		Code:    r.Code,
		Comm:    string(comm),
		StartNS: r.StartNs,
	}, nil
}
