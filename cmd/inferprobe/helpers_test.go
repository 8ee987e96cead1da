package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/engine"
	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/testbed/frontend"
	"github.com/inferprobe/inferprobe/testbed/truth"
	"github.com/inferprobe/inferprobe/tracer"
)

// The end-to-end tests re-execute this test binary: with helperEnv set, TestMain runs
// the named helper instead of the tests: "main" (the inferprobe command line), "engine"
// (the testbed server: front end and engine core in one process) or "spawner" (a parent
// that starts and stops engines on command, so that they are its children).
const helperEnv = "INFERPROBE_CMD_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "main":
		if path := os.Getenv("INFERPROBE_CPUPROFILE"); path != "" {
			if f, err := os.Create(path); err == nil {
				pprof.StartCPUProfile(f)
				code := dispatch(os.Args[1:], os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	case "engine":
		if err := runTestEngine(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "engine:", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "spawner":
		os.Exit(runSpawner())
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}

// runTestEngine is `testbed engine --procs 1 --frontend go` on a free loopback port: it
// prints "testbed serving http://ADDR pid=PID" and serves until SIGTERM.
func runTestEngine(args []string) error {
	fs := pflag.NewFlagSet("engine", pflag.ContinueOnError)
	cfg := engine.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var tw *truth.Writer
	if cfg.TruthPath != "" {
		var err error
		if tw, err = truth.Create(cfg.TruthPath); err != nil {
			return err
		}
		defer tw.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	core, err := engine.Start(context.Background(), *cfg)
	if err != nil {
		return err
	}
	srv, err := frontend.New(frontend.Config{Model: "testbed", MaxModelLen: cfg.MaxModelLen, Truth: tw}, core)
	if err != nil {
		core.Close()
		return err
	}
	fmt.Printf("testbed serving http://%s pid=%d\n", ln.Addr(), os.Getpid())
	serr := srv.Serve(ctx, ln)
	if err := core.Close(); serr == nil {
		serr = err
	}
	return serr
}

// runSpawner reads commands on stdin: "start ARGS..." starts an engine child and copies
// its ready line to stdout; "stop" ends it with SIGTERM and prints "stopped". EOF ends.
func runSpawner() int {
	var child *exec.Cmd
	sc := bufio.NewScanner(os.Stdin)
	stopChild := func() {
		if child != nil {
			child.Process.Signal(syscall.SIGTERM)
			child.Wait()
			child = nil
		}
	}
	defer stopChild()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 0 && f[0] == "start":
			child = exec.Command(os.Args[0], f[1:]...)
			child.Env = append(os.Environ(), helperEnv+"=engine")
			child.Stderr = os.Stderr
			out, _ := child.StdoutPipe()
			if err := child.Start(); err != nil {
				fmt.Println("error", err)
				continue
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			fmt.Print(line)
		case len(f) > 0 && f[0] == "stop":
			stopChild()
			fmt.Println("stopped")
		}
	}
	return 0
}

// requireKernel skips without root or when the host cannot trace (with the reason).
func requireKernel(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end kernel test: not with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to load and attach BPF programs")
	}
	if err := tracer.Preflight(); err != nil {
		t.Skip(err.Error())
	}
}

// engineArgs keep steps short and the machine's two CPUs free for the rest.
func engineArgs(t testing.TB, truthPath string) []string {
	lib := fakecuda.BuildForTest(t).LibDir
	return []string{"--lib=" + lib, "--truth=" + truthPath, "--max-model-len=1024", "--max-num-seqs=32",
		"--max-waiting=8", "--layers=4", "--cost.base=4ms", "--cost.prefill-token=30us", "--cost.decode-seq=30us",
		"--mem.weights-bytes=1073741824", "--mem.kv-cache-bytes=1073741824"}
}

// proc is a helper process of a test.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string // stdout lines
	stdin  io.WriteCloser
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func startHelper(t testing.TB, mode string, args ...string) *proc {
	t.Helper()
	p := &proc{lines: make(chan string, 64)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	p.cmd.Stderr = p
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// line waits for the next stdout line.
func (p *proc) line(t testing.TB, within time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("helper exited: %s", p.Stderr())
		}
		return l
	case <-time.After(within):
		t.Fatalf("no line from the helper in %v: %s", within, p.Stderr())
	}
	return ""
}

// stop sends SIGTERM and waits for the exit, which must be clean.
func (p *proc) stop(t testing.TB, within time.Duration) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v: %s", err, p.Stderr())
		}
	case <-time.After(within):
		p.cmd.Process.Kill()
		t.Fatalf("did not stop within %v of SIGTERM: %s", within, p.Stderr())
	}
}

// parseReady reads "testbed serving http://ADDR pid=PID".
func parseReady(t testing.TB, line string) (url string, pid int) {
	t.Helper()
	if _, err := fmt.Sscanf(line, "testbed serving %s pid=%d", &url, &pid); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return url, pid
}
