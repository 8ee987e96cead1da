package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// WorkerMain is `testbed worker --rank R --world N [engine flags]`: one tensor-parallel
// worker, started by an engine core with its end of a socket as fd 3. It prepares its
// GPU (1/N of the weights and KV cache), says it is ready, then runs every step the core
// sends on one locked thread and replies with its start and end, until the core closes
// the socket (or dies: the worker then gets SIGKILL).
func WorkerMain(args []string) error {
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	cfg := Flags(fs)
	rank := fs.Int("rank", 0, "this worker's rank")
	world := fs.Int("world", 1, "number of workers")
	fd := fs.Int("fd", 3, "file descriptor of the socket to the core")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *world < 1 || *rank < 0 || *rank >= *world {
		return fmt.Errorf("rank %d of %d workers: out of range", *rank, *world)
	}
	conn := os.NewFile(uintptr(*fd), "core")
	if conn == nil {
		return fmt.Errorf("fd %d: not open", *fd)
	}
	defer conn.Close()
	runtime.LockOSThread()
	return serveWorker(conn, *cfg, *world)
}

func serveWorker(conn io.ReadWriter, cfg Config, world int) error {
	enc := json.NewEncoder(conn)
	hello := workerMsg{PID: os.Getpid(), TID: unix.Gettid()}
	cfg.Workers = 1
	if err := cfg.Validate(); err != nil {
		replyOf(&hello, err)
		_ = enc.Encode(&hello)
		return err
	}
	g, err := openGPU(cfg, world)
	if err != nil {
		replyOf(&hello, err)
		_ = enc.Encode(&hello)
		return err
	}
	defer g.close()
	hello.Ready = true
	if err := enc.Encode(&hello); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // the core is done with us
		}
		if err != nil {
			return fmt.Errorf("read step: %w", err)
		}
		var s stepSpec
		if err := json.Unmarshal(line, &s); err != nil {
			return fmt.Errorf("bad step %q: %w", line, err)
		}
		rep := workerMsg{Index: s.Index}
		rep.StartNS, rep.EndNS, err = g.run(s)
		replyOf(&rep, err)
		if err := enc.Encode(&rep); err != nil {
			return fmt.Errorf("send reply: %w", err)
		}
	}
}
