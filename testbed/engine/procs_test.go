package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/testbed/proto"
)

// TestWorkersJoinSteps: with two workers every step runs on both (their own processes
// and simulated GPUs), the core's step spans both, and the workers exit with the core.
func TestWorkersJoinSteps(t *testing.T) {
	cfg := testConfig(t)
	cfg.Workers = 2
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := sendAdds(c, "tp", 4, 200, 6)
	for id, o := range collect(t, c.Out(), ids, 10*time.Second) {
		if o.final != nil || len(o.tokens) != 6 {
			t.Fatalf("%s: %d tokens, final %+v", id, len(o.tokens), o.final)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	steps := readSteps(t, cfg.TruthPath)
	if len(steps) < 6 {
		t.Fatalf("%d steps", len(steps))
	}
	pids := map[int]bool{}
	var perWorker []stepLine
	for _, s := range steps {
		if len(s.Workers) != 2 {
			t.Fatalf("step %d: %d workers", s.Index, len(s.Workers))
		}
		start, end := s.Workers[0].StartNS, s.Workers[0].EndNS
		for _, w := range s.Workers {
			if w.PID == os.Getpid() || w.PID == 0 || w.TID == 0 {
				t.Fatalf("step %d: worker %+v", s.Index, w)
			}
			pids[w.PID] = true
			start, end = min(start, w.StartNS), max(end, w.EndNS)
			one := s
			one.StartNS, one.EndNS = w.StartNS, w.EndNS
			perWorker = append(perWorker, one)
		}
		if s.StartNS != start || s.EndNS != end || s.PID != s.Workers[0].PID {
			t.Fatalf("step %d: %d..%d, workers span %d..%d", s.Index, s.StartNS, s.EndNS, start, end)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("worker pids %v, want 2", pids)
	}
	// Each worker's own step lasts its simulated cost.
	overruns(t, cfg, perWorker, 5*time.Millisecond)
	for pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker %d still there after Close: %v", pid, err)
		}
	}
}

// frontEnd is the test's side of the --procs 2 socket.
type frontEnd struct {
	t    *testing.T
	conn net.Conn
	enc  *json.Encoder
	msgs chan proto.Msg
}

func (f *frontEnd) Send(m proto.Msg) {
	if err := f.enc.Encode(&m); err != nil {
		f.t.Errorf("send: %v", err)
	}
}

// startEngineCore starts `engine-core --connect` as a child (this test binary) with env
// added, and returns the accepted connection.
func startEngineCore(t *testing.T, cfg Config, env ...string) (*frontEnd, *exec.Cmd) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "core.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(os.Args[0], append([]string{"engine-core", "--connect", sock}, cfg.Args()...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f := &frontEnd{t: t, conn: conn, enc: json.NewEncoder(conn), msgs: make(chan proto.Msg, 1024)}
	go func() {
		defer close(f.msgs)
		sc := bufio.NewScanner(conn)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m proto.Msg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("core sent %q: %v", sc.Text(), err)
				return
			}
			f.msgs <- m
		}
	}()
	return f, cmd
}

// TestEngineCoreProcessStickyFault runs the engine-core process of --procs 2 with a 700
// injected on its third wait: the first two steps stream tokens, the third fails every
// request in it with 500, the engine is dead and fails the rest and any later request
// with 500, and the truth file records the failed step with its CUresult.
func TestEngineCoreProcessStickyFault(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Lib = fakecuda.BuildForTest(t).LibDir
	cfg.MaxNumSeqs = 16
	cfg.TruthPath = filepath.Join(t.TempDir(), "truth.jsonl")
	fe, cmd := startEngineCore(t, cfg, "FAKECUDA_FAULT=wait:3:700")
	ids := sendAdds(fe, "sticky", 4, 50, 10)
	res := collect(t, fe.msgs, ids, 10*time.Second)
	for id, o := range res {
		if o.final == nil || o.final.Op != proto.OpFail || o.final.Status != 500 || len(o.tokens) > 2 {
			t.Fatalf("%s: %d tokens, final %+v; want at most 2 tokens then a 500", id, len(o.tokens), o.final)
		}
	}
	late := sendAdds(fe, "late", 1, 50, 10)
	o := collect(t, fe.msgs, late, 5*time.Second)[late[0]]
	if o.final == nil || o.final.Status != 500 || !strings.Contains(o.final.Error, "engine dead") || !strings.Contains(o.final.Error, "700") {
		t.Fatalf("request after the fault: %+v", o.final)
	}
	fe.conn.Close() // the front end goes: the core process exits
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("engine-core exit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("engine-core still running after the front end closed")
	}
	steps := readSteps(t, cfg.TruthPath)
	if len(steps) != 3 || steps[2].Error != 700 || steps[0].Error != 0 || steps[1].Error != 0 {
		t.Fatalf("truth steps: %+v", steps)
	}
	if steps[2].EndNS < steps[2].StartNS+uint64(expectedCost(cfg, steps[2])) {
		t.Fatalf("the failed wait returned before the step's work was done: %+v", steps[2])
	}
}

// TestEngineCoreProcessOOMStep: an out-of-memory on step 0's scratch allocation (the
// 67th cuMemAlloc_v2: 32 layers of weights and of KV cache, the input and output
// buffers, then the scratch) fails the requests of that step with 500; the error is not
// sticky, so the engine goes on serving.
func TestEngineCoreProcessOOMStep(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Lib = fakecuda.BuildForTest(t).LibDir
	cfg.MaxNumSeqs = 16
	cfg.TruthPath = filepath.Join(t.TempDir(), "truth.jsonl")
	fe, _ := startEngineCore(t, cfg, "FAKECUDA_FAULT=alloc:67:2")
	first := sendAdds(fe, "oom", 1, 50, 3)
	o := collect(t, fe.msgs, first, 10*time.Second)[first[0]]
	if o.final == nil || o.final.Status != 500 || !strings.Contains(o.final.Error, "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("request in the failed step: %+v", o.final)
	}
	later := sendAdds(fe, "after", 2, 50, 3)
	for id, o := range collect(t, fe.msgs, later, 10*time.Second) {
		if o.final != nil || len(o.tokens) != 3 {
			t.Fatalf("%s after a non-sticky error: %d tokens, final %+v", id, len(o.tokens), o.final)
		}
	}
	fe.conn.Close()
	steps := readSteps(t, cfg.TruthPath)
	if len(steps) < 2 || steps[0].Error != 2 || steps[1].Error != 0 {
		t.Fatalf("truth steps: %+v", steps)
	}
}
