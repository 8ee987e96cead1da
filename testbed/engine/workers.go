package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/testbed/cuda"
)

// workerMsg is a worker's line to the core: its hello (Ready or Error) or a step's reply.
type workerMsg struct {
	Ready   bool   `json:"ready,omitempty"`
	PID     int    `json:"pid,omitempty"`
	TID     int    `json:"tid,omitempty"`
	Index   uint64 `json:"index"`
	StartNS uint64 `json:"start_ns,omitempty"`
	EndNS   uint64 `json:"end_ns,omitempty"`
	Result  int    `json:"result,omitempty"` // CUresult of a failed call, -1 for another error
	Call    string `json:"call,omitempty"`
	Error   string `json:"error,omitempty"`
}

// err turns a reply's failure back into an error (a cuda.Error when it was one).
func (m *workerMsg) err() error {
	switch {
	case m.Error == "":
		return nil
	case m.Result > 0:
		return fmt.Errorf("%s: %w", m.Error, cuda.Error{Call: m.Call, Result: m.Result})
	}
	return errors.New(m.Error)
}

// replyOf encodes err into a reply.
func replyOf(m *workerMsg, err error) {
	if err == nil {
		return
	}
	m.Error, m.Result = err.Error(), -1
	var ce cuda.Error
	if errors.As(err, &ce) {
		m.Result, m.Call = ce.Result, ce.Call
	}
}

// worker is one worker process as the core sees it.
type worker struct {
	rank     int
	cmd      *exec.Cmd
	conn     *os.File
	r        *bufio.Reader
	pid, tid int
}

// workerPool runs each step on every worker and joins them.
type workerPool struct {
	ws  []*worker
	buf []byte
}

// startWorkers starts cfg.Workers worker processes from the calling thread (their
// parent-death signal is tied to it) and waits until each has its GPU ready.
func startWorkers(cfg Config) (*workerPool, error) {
	argv := cfg.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable for workers: %w", err)
		}
		argv = []string{exe, "worker"}
	}
	p := &workerPool{}
	for rank := range cfg.Workers {
		w, err := startWorker(argv, cfg, rank)
		if err != nil {
			p.close()
			return nil, err
		}
		p.ws = append(p.ws, w)
	}
	for _, w := range p.ws {
		var hello workerMsg
		if err := w.read(&hello); err != nil {
			p.close()
			return nil, fmt.Errorf("worker %d: start: %w", w.rank, err)
		}
		if !hello.Ready {
			p.close()
			return nil, fmt.Errorf("worker %d: start: %w", w.rank, hello.err())
		}
		w.pid, w.tid = hello.PID, hello.TID
	}
	return p, nil
}

func startWorker(argv []string, cfg Config, rank int) (*worker, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("worker %d: socketpair: %w", rank, err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "worker"), os.NewFile(uintptr(fds[1]), "core")
	defer theirs.Close()
	wc := cfg
	wc.TruthPath, wc.Workers = "", 1 // the core writes the truth; a worker drives one GPU
	args := append(append([]string{}, argv[1:]...), "--rank="+strconv.Itoa(rank), "--world="+strconv.Itoa(cfg.Workers))
	cmd := exec.Command(argv[0], append(args, wc.Args()...)...)
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		mine.Close()
		return nil, fmt.Errorf("worker %d: start %s: %w", rank, argv[0], err)
	}
	return &worker{rank: rank, cmd: cmd, conn: mine, r: bufio.NewReader(mine)}, nil
}

func (w *worker) read(m *workerMsg) error {
	line, err := w.r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("worker %d (pid %d) gone: %w", w.rank, w.cmd.Process.Pid, err)
	}
	if err := json.Unmarshal(line, m); err != nil {
		return fmt.Errorf("worker %d: bad reply %q: %w", w.rank, line, err)
	}
	return nil
}

// step broadcasts s to every worker, then waits for all of them: the step is done when
// the last worker's wait returned.
func (p *workerPool) step(s stepSpec) (stepResult, error) {
	var err error
	p.buf, err = json.Marshal(s)
	if err != nil {
		return stepResult{}, fmt.Errorf("encode step: %w", err)
	}
	p.buf = append(p.buf, '\n')
	var errs []error
	sent := make([]bool, len(p.ws))
	for i, w := range p.ws {
		if _, err := w.conn.Write(p.buf); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: send step: %w", w.rank, err))
			continue
		}
		sent[i] = true
	}
	res := stepResult{workers: make([]workerTiming, len(p.ws))}
	for i, w := range p.ws {
		wt := workerTiming{Rank: w.rank, PID: w.pid, TID: w.tid}
		if sent[i] {
			var m workerMsg
			if err := w.read(&m); err != nil {
				errs = append(errs, err)
			} else if m.Index != s.Index {
				errs = append(errs, fmt.Errorf("worker %d: reply for step %d, want %d", w.rank, m.Index, s.Index))
			} else {
				wt.StartNS, wt.EndNS = m.StartNS, m.EndNS
				if werr := m.err(); werr != nil {
					wt.Error = m.Result
					errs = append(errs, fmt.Errorf("worker %d: %w", w.rank, werr))
				}
			}
		}
		res.workers[i] = wt
		if wt.StartNS != 0 && (res.startNS == 0 || wt.StartNS < res.startNS) {
			res.startNS = wt.StartNS
		}
		res.endNS = max(res.endNS, wt.EndNS)
	}
	if len(p.ws) > 0 {
		res.pid, res.tid = p.ws[0].pid, p.ws[0].tid
	}
	return res, errors.Join(errs...)
}

// close ends the workers: their socket closes, they exit; one that does not within a
// second is killed.
func (p *workerPool) close() {
	for _, w := range p.ws {
		w.conn.Close()
	}
	for _, w := range p.ws {
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
	p.ws = nil
}
