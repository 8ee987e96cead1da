package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func eventStream(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := event.NewWriter(&b)
	h := func(pid, tid uint32) event.Header { return event.Header{TS: 1, PID: pid, TID: tid} }
	for _, e := range []event.Event{
		&event.CUDA{Header: h(10, 11), Call: event.CallLaunchKernel, Kernel: "gemm"},
		&event.CUDA{Header: h(10, 11), Call: event.CallLaunchKernel, Kernel: "gemm"},
		&event.CUDA{Header: h(10, 12), Call: event.CallLaunchKernelEx},
		&event.CUDA{Header: h(10, 11), Call: event.CallLaunchKernel, Kernel: "gemm", Captured: true},
		&event.CUDA{Header: h(10, 11), Call: event.CallGraphLaunch},
		&event.CUDA{Header: h(10, 11), Call: event.CallStreamSynchronize},
		&event.CUDA{Header: h(10, 11), Call: event.CallStreamSynchronize, Return: true},
		&event.CUDA{Header: h(10, 11), Call: event.CallMemAlloc, Return: true, Result: 2},
		&event.CUDA{Header: h(10, 11), Call: event.CallEventSynchronize, Return: true, Result: 600},
		&event.Sock{Header: h(10, 13), Op: event.OpRead, Syscall: event.SysRecvfrom, Ret: 100},
		&event.Sock{Header: h(10, 13), Op: event.OpWrite, Syscall: event.SysSendmsg, Ret: 40},
		&event.Sock{Header: h(10, 13), Op: event.OpWrite, Syscall: event.SysSendmsg, Ret: 40},
		&event.CUDA{Header: h(99, 99), Call: event.CallLaunchKernel, Kernel: "other"},
		&event.Proc{Header: h(10, 10), Op: event.ProcFound},
	} {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCountCalls(t *testing.T) {
	c, err := countCalls(bytes.NewReader(eventStream(t)), 10)
	if err != nil {
		t.Fatal(err)
	}
	if c.events != 13 || c.launches != 3 || c.named != 2 || c.captured != 1 || c.graphLaunches != 1 {
		t.Fatalf("events %d launches %d named %d captured %d graph %d", c.events, c.launches, c.named, c.captured, c.graphLaunches)
	}
	if got := c.NamedShare(); got < 0.666 || got > 0.667 {
		t.Errorf("named share %v, want 2/3", got)
	}
	if c.entries[event.CallStreamSynchronize] != 1 || c.returns[event.CallStreamSynchronize] != 1 ||
		c.errors[event.CallMemAlloc] != 1 || c.errors[event.CallEventSynchronize] != 0 || c.results[2] != 1 || len(c.results) != 1 {
		t.Errorf("entries/returns/errors wrong: %+v", c)
	}
	if c.sock["write/sendmsg"] != 2 || c.sock["read/recvfrom"] != 1 || c.launchTIDs[11] != 2 || c.launchTIDs[12] != 1 {
		t.Errorf("sock %v tids %v", c.sock, c.launchTIDs)
	}
	all, err := countCalls(bytes.NewReader(eventStream(t)), 0)
	if err != nil || all.launches != 4 || all.events != 14 {
		t.Errorf("every pid: %d launches of %d events, %v", all.launches, all.events, err)
	}
}

func TestCallsCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, eventStream(t), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runCalls([]string{"--pid", "10", path}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"kernel launches executed: 3 (1 made while capturing a graph); named: 2 (66.7%); graph launches: 1",
		"CUresults other than 0 and 600: map[2:1]",
		"launches on tid 11: 2",
		"kernel       2  gemm",
		"socket write/sendmsg      2",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if !rowHas(s, "cuStreamSynchronize", "1", "1", "0") || !rowHas(s, "cuMemAlloc", "0", "1", "1") {
		t.Errorf("call rows wrong:\n%s", s)
	}
	if err := os.WriteFile(path, []byte(`{"type":"gpu"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runCalls([]string{path}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "unknown event type") {
		t.Errorf("bad stream: %v", err)
	}
}
