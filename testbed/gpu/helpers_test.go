package gpu

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// python is the interpreter the kit runs under here: Debian's, which has python3-torch and
// python3-aiohttp (a pyenv python3 earlier on PATH does not). INFERPROBE_PYTHON overrides.
func python() string {
	if p := os.Getenv("INFERPROBE_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// needPython skips the test when the interpreter lacks torch or aiohttp.
func needPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python(), "-c", "import torch, aiohttp").CombinedOutput()
	if err != nil {
		t.Skipf("the GPU testbed needs %s with torch and aiohttp (Debian: python3-torch python3-aiohttp): %v: %s",
			python(), err, bytes.TrimSpace(lastLine(out)))
	}
}

func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// tinyModel is a model small enough for two shared CPU cores.
var tinyModel = []string{"--device", "cpu", "--layers", "2", "--hidden", "64", "--heads", "4", "--vocab", "512",
	"--max-model-len", "256", "--max-batch", "8", "--threads", "1"}

type server struct {
	cmd    *exec.Cmd
	pid    int
	url    string
	truth  string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

var serving = regexp.MustCompile(`^gpu testbed serving (http://\S+) pid=(\d+)$`)

// startServer runs server.py on a free port with the tiny model and waits until it serves.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	needPython(t)
	s := &server{truth: filepath.Join(t.TempDir(), "truth.jsonl"), done: make(chan error, 1)}
	args := append([]string{"server.py", "--port", "0", "--truth", s.truth}, tinyModel...)
	s.cmd = exec.Command(python(), append(args, extra...)...)
	s.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	s.cmd.Stderr = &lockedBuffer{mu: &s.mu, b: &s.stderr}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := serving.FindStringSubmatch(sc.Text()); m != nil && s.url == "" {
				s.url = m[1]
				s.pid, _ = strconv.Atoi(m[2])
				close(ready)
			}
		}
		s.done <- s.cmd.Wait()
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("server.py exited before serving: %v\n%s", err, s.errText())
	case <-time.After(120 * time.Second):
		t.Fatalf("server.py did not serve within 120 s:\n%s", s.errText())
	}
	if s.pid != s.cmd.Process.Pid {
		t.Fatalf("server says pid %d, started %d", s.pid, s.cmd.Process.Pid)
	}
	return s
}

func (s *server) errText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop interrupts the server and waits for it (once).
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil || s.done == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("server.py ignored SIGINT for 20 s")
	}
	s.done = nil
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// runLoad runs load.py against the server and returns its stdout.
func runLoad(t *testing.T, url string, args ...string) string {
	t.Helper()
	cmd := exec.Command(python(), append([]string{"load.py", "--url", url}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("load.py %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds inferprobe and gpucheck once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "inferprobe-gpukit-bin")
		if binErr != nil {
			return
		}
		for name, pkg := range map[string]string{"inferprobe": "./cmd/inferprobe", "gpucheck": "./testbed/gpu/gpucheck"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg)
			cmd.Dir = root(t)
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("recording with inferprobe attaches eBPF programs: needs root")
	}
}

func execPython(args ...string) *exec.Cmd { return exec.Command(python(), args...) }
