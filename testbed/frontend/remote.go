package frontend

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// Remote is an engine core in a child process (vLLM V1's EngineCore process), spoken to
// as JSON lines over a unix stream socket that the front end listens on.
type Remote struct {
	cmd    *exec.Cmd
	conn   net.Conn
	out    chan proto.Msg
	exited chan struct{}
	log    *slog.Logger

	wmu sync.Mutex
	err error // the first send error
}

// RemoteConfig says how to start the core process.
type RemoteConfig struct {
	// Exe is the testbed binary; it runs as "Exe engine-core --connect SOCKET Args...".
	Exe  string
	Args []string
	// Timeout bounds how long the core may take to connect (default 30s).
	Timeout time.Duration
	Log     *slog.Logger
}

// StartRemote starts the core process and waits for it to connect.
func StartRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "testbed-core-")
	if err != nil {
		return nil, fmt.Errorf("core socket dir: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "core.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen for the core: %w", err)
	}
	defer ln.Close()
	args := append([]string{"engine-core", "--connect", path}, cfg.Args...)
	cmd := exec.Command(cfg.Exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start engine core: %w", err)
	}
	r := &Remote{cmd: cmd, out: make(chan proto.Msg, 1024), exited: make(chan struct{}), log: cfg.Log}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(r.exited)
	}()
	ln.SetDeadline(time.Now().Add(cfg.Timeout))
	accepted := make(chan struct{})
	go func() { // an early exit of the core ends the wait
		select {
		case <-r.exited:
			ln.Close()
		case <-accepted:
		}
	}()
	c, err := ln.Accept()
	close(accepted)
	if err != nil {
		cmd.Process.Kill()
		<-r.exited
		if waitErr != nil {
			return nil, fmt.Errorf("engine core exited before connecting: %w", waitErr)
		}
		return nil, fmt.Errorf("wait for the engine core to connect: %w", err)
	}
	r.conn = c
	go r.readLoop()
	return r, nil
}

// Pid is the core process's id.
func (r *Remote) Pid() int { return r.cmd.Process.Pid }

// Send writes m as one JSON line.
func (r *Remote) Send(m proto.Msg) {
	b, err := json.Marshal(m)
	if err != nil {
		r.log.Error("encode core message", "err", err)
		return
	}
	b = append(b, '\n')
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.err != nil {
		return
	}
	if _, err := r.conn.Write(b); err != nil {
		r.err = err
		r.log.Error("send to engine core", "err", err)
	}
}

// Out delivers the core's messages; it closes when the core's connection ends.
func (r *Remote) Out() <-chan proto.Msg { return r.out }

func (r *Remote) readLoop() {
	defer close(r.out)
	br := bufio.NewReaderSize(r.conn, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 1 {
			var m proto.Msg
			if jerr := json.Unmarshal(line, &m); jerr != nil {
				r.log.Error("decode core message", "err", jerr)
				return
			}
			r.out <- m
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.log.Error("read from engine core", "err", err)
			}
			return
		}
	}
}

// Close ends the connection, which tells the core to exit, and waits for it (killing it
// after grace).
func (r *Remote) Close(grace time.Duration) error {
	r.conn.Close()
	select {
	case <-r.exited:
	case <-time.After(grace):
		r.cmd.Process.Kill()
		<-r.exited
		return fmt.Errorf("engine core (pid %d) did not exit within %v: killed", r.cmd.Process.Pid, grace)
	}
	return nil
}
