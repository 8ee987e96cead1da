package fakecuda

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Proc is a running cudriver.
type Proc struct {
	PID int

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan error
	done   chan struct{} // stdout reached EOF
	mu     sync.Mutex
	lines  []string // stdout after the ready line
	stderr bytes.Buffer
}

// start runs the driver with LD_LIBRARY_PATH pointing at the simulated libcuda (it
// dlopens "libcuda.so.1" as PyTorch does) and returns once it printed "ready <pid>".
func start(ctx context.Context, p Paths, env []string, args ...string) (*Proc, error) {
	cmd := exec.CommandContext(ctx, p.Driver, args...)
	ld := p.LibDir
	if old := os.Getenv("LD_LIBRARY_PATH"); old != "" {
		ld += ":" + old
	}
	cmd.Env = append(append(os.Environ(), "LD_LIBRARY_PATH="+ld), env...)
	pr := &Proc{cmd: cmd, ready: make(chan error, 1), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &pr.mu, w: &pr.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if pr.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start cudriver: %w", err)
	}
	go pr.read(stdout)
	select {
	case err = <-pr.ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		cmd.Process.Kill()
		pr.Wait()
		return nil, fmt.Errorf("cudriver %s: %w (stderr: %s)", strings.Join(args, " "), err, pr.Stderr())
	}
	return pr, nil
}

func (p *Proc) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			var pid int
			if _, err := fmt.Sscanf(line, "ready %d", &pid); err != nil {
				p.ready <- fmt.Errorf("want a ready line, got %q", line)
			} else if pid != p.cmd.Process.Pid {
				p.ready <- fmt.Errorf("ready pid %d, started %d", pid, p.cmd.Process.Pid)
			} else {
				p.PID = pid
				p.ready <- nil
			}
			continue
		}
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
	}
	if first {
		p.ready <- fmt.Errorf("exited before ready")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Go lets a script or bench run past its ready line (phase 2).
func (p *Proc) Go() error {
	_, err := io.WriteString(p.stdin, "go\n")
	return err
}

// Signal sends sig to the driver.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the driver to exit; a non-zero exit is an error carrying its stderr.
func (p *Proc) Wait() error {
	p.stdin.Close()
	<-p.done
	if err := p.cmd.Wait(); err != nil {
		return fmt.Errorf("cudriver: %w (stderr: %s)", err, p.Stderr())
	}
	return nil
}

// Stderr is what the driver wrote to stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.TrimSpace(p.stderr.String())
}

// Lines are the stdout lines after the ready line.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// StartScript starts `cudriver script report`: it returns after phase 1 (the driver
// loaded, a context, streams, a module and "early_kernel" looked up); Go runs phase 2,
// which writes the report (ReadReport) and exits. env adds FAKECUDA_* settings.
func StartScript(ctx context.Context, p Paths, report string, env []string) (*Proc, error) {
	return start(ctx, p, env, "script", report)
}

// Bench modes.
const (
	BenchLaunch     = "launch"      // cuLaunchKernel of a zero-cost kernel on an idle stream
	BenchSync       = "sync"        // cuCtxSynchronize of an idle device
	BenchStreamSync = "stream-sync" // cuStreamSynchronize of an idle stream
)

// StartBench starts `cudriver bench mode n`; after Go it makes n calls in a tight loop.
// NsPerCall reads the result once Wait returned.
func StartBench(ctx context.Context, p Paths, mode string, n int, env []string) (*Proc, error) {
	switch mode {
	case BenchLaunch, BenchSync, BenchStreamSync:
	default:
		return nil, fmt.Errorf("unknown bench mode %q", mode)
	}
	if n <= 0 {
		return nil, fmt.Errorf("bench needs a positive call count, got %d", n)
	}
	return start(ctx, p, env, "bench", mode, strconv.Itoa(n))
}

// NsPerCall is the bench result: wall time per call in ns.
func (p *Proc) NsPerCall() (float64, error) {
	for _, l := range p.Lines() {
		if v, ok := strings.CutPrefix(l, "ns_per_call "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no ns_per_call line in %q", p.Lines())
}

// StartLoop starts `cudriver loop seconds [summary]`: setup, then ready, then steps run
// at once (no Go needed) until seconds pass; the driver then writes summary (when not
// "") and exits 0.
func StartLoop(ctx context.Context, p Paths, seconds float64, summary string, env []string) (*Proc, error) {
	if seconds < 0 {
		return nil, fmt.Errorf("loop needs a duration >= 0, got %v", seconds)
	}
	args := []string{"loop", strconv.FormatFloat(seconds, 'f', -1, 64)}
	if summary != "" {
		args = append(args, summary)
	}
	return start(ctx, p, env, args...)
}
