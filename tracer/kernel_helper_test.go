package tracer

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The kernel tests re-execute the test binary as the traced process: with
// INFERPROBE_TEST_HELPER set, TestMain runs that helper instead of the tests.
const helperEnv = "INFERPROBE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	switch mode {
	case "spawner":
		// Wait for a line on stdin, then run the writer as a child and wait for it.
		bufio.NewReader(os.Stdin).ReadString('\n')
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=writer")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "spawner:", err)
			return 1
		}
		return 0
	case "writer":
		conn, err := net.Dial("tcp", os.Getenv("INFERPROBE_TEST_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(childHello)); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
		return 0
	case "sse-server":
		if err := sseServer(os.Getenv("INFERPROBE_TEST_FILE")); err != nil {
			fmt.Fprintln(os.Stderr, "sse-server:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper", mode)
	return 2
}

// childHello is what the writer helper sends.
const childHello = "hello from a child process"

// The SSE server's responses: headers, then sseChunks (one write each), a 3-part writev
// of the last event, then [DONE].
var (
	sseHeader = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
	sseChunks = []string{
		`data: {"choices":[{"delta":{"content":"Hello"}}]}` + "\n\n",
		`data: {"choices":[{"delta":{"content":"` + strings.Repeat("x", 1800) + `"}}]}` + "\n\n", // longer than the head
		`data: {"choices":[{"delta":{"content":"!"}}]}` + "\n\n",                                 // sendto
	}
	sseVec  = []string{"data: ", `{"choices":[],"usage":{"completion_tokens":3}}`, "\n\n"}
	sseDone = "data: [DONE]\n\n"
)

// sseServer listens on loopback, prints its port, then serves two connections: each
// reads one request (connection 0 with recvfrom, connection 1 with recvmsg into two
// iovecs), streams the SSE response (write, write, write, sendto, writev, sendmsg of two
// iovecs) and closes. It also writes every chunk to a file, which must never show up as
// a socket event.
func sseServer(file string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	for i := range 2 {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		raw, err := conn.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		var req []byte
		var rerr error
		err = raw.Read(func(fd uintptr) bool {
			var n int
			if i == 0 {
				buf := make([]byte, 4096)
				n, _, rerr = unix.Recvfrom(int(fd), buf, 0)
				req = buf[:max(n, 0)]
			} else {
				a, b := make([]byte, 16), make([]byte, 4096)
				n, _, _, _, rerr = unix.RecvmsgBuffers(int(fd), [][]byte{a, b}, nil, 0)
				req = append(a, b...)[:max(n, 0)]
			}
			return rerr != unix.EAGAIN
		})
		if err != nil || rerr != nil || !strings.HasSuffix(string(req), "\r\n\r\n") {
			return fmt.Errorf("read request %q: %v %v", req, err, rerr)
		}
		for j, c := range append([]string{sseHeader}, sseChunks...) {
			if j == len(sseChunks) { // the last chunk through sendto
				err = rawWrite(raw, func(fd int) error { return unix.Sendto(fd, []byte(c), 0, nil) })
			} else {
				_, err = conn.Write([]byte(c))
			}
			if err != nil {
				return err
			}
			if _, err := f.WriteString("FILELINE " + c); err != nil {
				return err
			}
		}
		bufs := net.Buffers{[]byte(sseVec[0]), []byte(sseVec[1]), []byte(sseVec[2])}
		if _, err := bufs.WriteTo(conn); err != nil {
			return err
		}
		if err := rawWrite(raw, func(fd int) error {
			_, err := unix.SendmsgBuffers(fd, [][]byte{[]byte(sseDone[:6]), []byte(sseDone[6:])}, nil, nil, 0)
			return err
		}); err != nil {
			return err
		}
		conn.Close()
	}
	return nil
}

// rawWrite runs a write syscall on a connection's fd, waiting while it would block.
func rawWrite(raw syscall.RawConn, write func(fd int) error) error {
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		werr = write(int(fd))
		return werr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return werr
}
