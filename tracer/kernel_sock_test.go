package tracer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

const sseRequest = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"

// TestSockets traces a small SSE server (this test binary in helper mode) that a client
// here talks to over loopback twice, and that also writes every chunk to a file.
func TestSockets(t *testing.T) {
	requireKernel(t)
	const payload = 512
	file := filepath.Join(t.TempDir(), "chunks.txt")
	srv := exec.Command(os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), helperEnv+"=sse-server", "INFERPROBE_TEST_FILE="+file)
	srv.Stderr = os.Stderr
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	var port int
	if _, err := fmt.Fscanf(bufio.NewReader(out), "port %d\n", &port); err != nil {
		t.Fatalf("read the server's port: %v", err)
	}
	pid := srv.Process.Pid
	c := startTracer(t, Config{PIDs: []int{pid}, PayloadBytes: payload})

	var clientPorts []uint16
	for range 2 {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		clientPorts = append(clientPorts, uint16(conn.LocalAddr().(*net.TCPAddr).Port))
		if _, err := io.WriteString(conn, sseRequest); err != nil {
			t.Fatal(err)
		}
		resp, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := sseHeader + strings.Join(sseChunks, "") + strings.Join(sseVec, "") + sseDone; string(resp) != want {
			t.Fatalf("response %q, want %q", resp, want)
		}
	}
	if err := srv.Wait(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "exit event", 5*time.Second, procEvent(pid, event.ProcExit))
	evs := c.stop(t)

	if f := findProc(evs, pid, event.ProcFound); f == nil || len(f.Listen) != 1 || f.Listen[0] != fmt.Sprintf("tcp:%d", port) {
		t.Errorf("found event %+v, want it listening on tcp:%d", f, port)
	}
	var accepts []*event.Sock
	byConn := map[uint64][]*event.Sock{}
	for _, e := range evs {
		s, ok := e.(*event.Sock)
		if !ok || s.PID != uint32(pid) {
			continue
		}
		if bytes.Contains(s.Data, []byte("FILELINE")) || bytes.Contains(s.Data, []byte("port ")) {
			t.Errorf("a file or pipe write was captured: %+v", s)
		}
		if s.Conn == 0 && s.Op != event.OpAccept {
			t.Errorf("socket event without a connection: %+v", s)
		}
		if s.Op == event.OpAccept && s.Ret >= 0 {
			accepts = append(accepts, s)
		}
		if s.Ret > 0 || s.Op == event.OpClose {
			byConn[s.Conn] = append(byConn[s.Conn], s)
		}
	}
	if len(accepts) != 2 {
		t.Fatalf("%d accepts, want 2", len(accepts))
	}
	if accepts[0].Conn == accepts[1].Conn || accepts[0].Listener != accepts[1].Listener || accepts[0].Listener == 0 {
		t.Errorf("accepts: conns %#x %#x, listeners %#x %#x", accepts[0].Conn, accepts[1].Conn, accepts[0].Listener, accepts[1].Listener)
	}
	for i, a := range accepts {
		if a.Family != event.FamilyInet || a.LocalPort != uint16(port) || a.RemotePort != clientPorts[i] {
			t.Errorf("accept %d: %v %d <- %d, want inet %d <- %d", i, a.Family, a.LocalPort, a.RemotePort, port, clientPorts[i])
		}
		checkConn(t, i, byConn[a.Conn], payload, uint16(port), clientPorts[i])
	}
}

// checkConn holds one connection's events to what the server did on it: one request
// read, the response writes with their sizes and bytes, the close.
func checkConn(t *testing.T, i int, evs []*event.Sock, payload int, lport, rport uint16) {
	t.Helper()
	var reads, writes []*event.Sock
	closes := 0
	for _, s := range evs[1:] { // evs[0] is the accept
		if s.LocalPort != lport || s.RemotePort != rport || s.Family != event.FamilyInet {
			t.Errorf("conn %d: %v event on %v %d <- %d", i, s.Op, s.Family, s.LocalPort, s.RemotePort)
		}
		switch s.Op {
		case event.OpRead:
			reads = append(reads, s)
		case event.OpWrite:
			writes = append(writes, s)
		case event.OpClose:
			closes++
		}
	}
	if evs[0].Op != event.OpAccept || closes != 1 || evs[len(evs)-1].Op != event.OpClose {
		t.Errorf("conn %d: first %v, last %v, %d closes; want accept first and one close last", i, evs[0].Op, evs[len(evs)-1].Op, closes)
	}
	wantRead := []event.Syscall{event.SysRecvfrom, event.SysRecvmsg}[i]
	if len(reads) != 1 || string(reads[0].Data) != sseRequest || reads[0].Ret != int64(len(sseRequest)) || reads[0].Syscall != wantRead {
		for _, r := range reads {
			t.Logf("read %v %d: %q", r.Syscall, r.Ret, r.Data)
		}
		t.Fatalf("conn %d: %d reads, want the request in one", i, len(reads))
	}
	want := append(append([]string{sseHeader}, sseChunks...), strings.Join(sseVec, ""), sseDone)
	if len(writes) != len(want) {
		t.Fatalf("conn %d: %d writes, want %d", i, len(writes), len(want))
	}
	for j, w := range writes {
		full := want[j]
		head, tail := full, ""
		if len(full) > payload {
			head = full[:payload]
			tail = full[len(full)-min(256, len(full)-payload):]
		}
		if w.Ret != int64(len(full)) || string(w.Data) != head || string(w.Tail) != tail {
			t.Errorf("conn %d write %d (%v): ret %d data %d bytes %.40q... tail %d bytes; want %d, %d bytes %.40q..., %d bytes",
				i, j, w.Syscall, w.Ret, len(w.Data), w.Data, len(w.Tail), len(full), len(head), head, len(tail))
		}
		if w.Start > w.TS {
			t.Errorf("conn %d write %d: start %d after end %d", i, j, w.Start, w.TS)
		}
	}
	syscalls := []event.Syscall{event.SysWrite, event.SysWrite, event.SysWrite, event.SysSendto, event.SysWritev, event.SysSendmsg}
	for j, w := range writes {
		if w.Syscall != syscalls[j] {
			t.Errorf("conn %d write %d: %v, want %v", i, j, w.Syscall, syscalls[j])
		}
	}
}
