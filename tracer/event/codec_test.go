package event

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestCodecRoundTrip(t *testing.T) {
	in := []Event{
		&CUDA{Header: Header{TS: 10, PID: 1, TID: 2}, Call: CallLaunchKernel, Start: 10, Stream: 2, Handle: 0xabc,
			Kernel: "gemm", Grid: [3]uint32{4, 1, 1}, Block: [3]uint32{128, 1, 1}},
		&CUDA{Header: Header{TS: 30, PID: 1, TID: 2}, Call: CallStreamSynchronize, Return: true, Start: 20, Result: 700},
		&Sock{Header: Header{TS: 40, PID: 3, TID: 3}, Start: 35, Op: OpWrite, Syscall: SysWritev, FD: 7, Conn: 99,
			Family: FamilyInet, LocalPort: 8000, RemotePort: 51234, Ret: 5, Data: []byte("data:"), Tail: []byte("x")},
		&Proc{Header: Header{TS: 50, PID: 4, TID: 4}, Op: ProcExit, PPID: 1, Code: 256, Comm: "python3"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, e := range in {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"call":"cuStreamSynchronize"`) || !strings.Contains(buf.String(), `"syscall":"writev"`) {
		t.Fatalf("enums not written by name:\n%s", buf.String())
	}
	r := NewReader(&buf)
	for i, want := range in {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d: got %+v want %+v", i, got, want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Fatalf("after last: %v, want EOF", err)
	}
}

func TestReaderErrors(t *testing.T) {
	_, err := NewReader(strings.NewReader("\n{\"type\":\"gpu\"}\n")).Read()
	if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
	_, err = NewReader(strings.NewReader(`{"type":"cuda","call":"cuNope"}`)).Read()
	if err == nil || !strings.Contains(err.Error(), `"cuNope"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCallNames(t *testing.T) {
	for c := Call(0); int(c) < NumCalls; c++ {
		if c.String() == "" {
			t.Fatalf("call %d has no name", c)
		}
		back, err := ParseCall(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCall(%q) = %v, %v", c, back, err)
		}
	}
	if !CallGraphLaunch.IsLaunch() || CallStreamSynchronize.IsLaunch() || !CallMemcpyDtoH.IsWait() || CallMemcpyAsync.IsWait() {
		t.Fatal("call classes wrong")
	}
}
