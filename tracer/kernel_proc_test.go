package tracer

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/link"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// TestAutoLifecycle runs the tracer in auto mode before two workloads start: one that
// runs to its end and one killed in the middle. Both are found once they map libcuda,
// traced, and forgotten at their exit, their probes detached.
func TestAutoLifecycle(t *testing.T) {
	requireKernel(t)
	paths := fakecuda.BuildForTest(t)
	c := startTracer(t, Config{Auto: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	summary := filepath.Join(t.TempDir(), "summary.json")
	done, err := fakecuda.StartLoop(ctx, paths, 1.5, summary, nil)
	if err != nil {
		t.Fatal(err)
	}
	killed, err := fakecuda.StartLoop(ctx, paths, 60, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The killed one is traced: found, and its waits seen; then its probes are held.
	waitReturns := func(pid int) func([]event.Event) bool {
		return func(evs []event.Event) bool { return countCUDA(evs, pid, true) >= 3 }
	}
	c.waitFor(t, "traced waits of the second workload", 10*time.Second, waitReturns(killed.PID))
	links := targetLinks(t, c.t, killed.PID)
	if len(links) == 0 {
		t.Fatal("no CUDA probes attached to the second workload")
	}
	if err := killed.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed.Wait()
	if err := done.Wait(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "exit events", 5*time.Second, func(evs []event.Event) bool {
		return findProc(evs, killed.PID, event.ProcExit) != nil && findProc(evs, done.PID, event.ProcExit) != nil
	})
	evs := c.snapshot()

	sum, err := fakecuda.ReadLoopSummary(summary)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		pid  int
		code int32
	}{{done.PID, 0}, {killed.PID, int32(syscall.SIGKILL)}} {
		found := findProc(evs, w.pid, event.ProcFound)
		if found == nil || found.Libcuda != paths.Lib || found.Comm != "cudriver" {
			t.Errorf("pid %d: found %+v, want cudriver mapping %s", w.pid, found, paths.Lib)
		}
		exit := findProc(evs, w.pid, event.ProcExit)
		if exit.Code != w.code {
			t.Errorf("pid %d: exit code %d, want %d", w.pid, exit.Code, w.code)
		}
		for _, e := range evs {
			if e.Hdr().PID == uint32(w.pid) && e.Hdr().TS > exit.TS {
				t.Errorf("pid %d: %s event after its exit", w.pid, event.Type(e))
			}
		}
	}
	// Attached late, the tracer sees the end of the first workload's calls: some, and no
	// more than it made.
	var syncs uint64
	for sym, n := range sum.Calls {
		if sym == "cuStreamSynchronize" || sym == "cuStreamSynchronize_ptsz" {
			syncs += n
		}
	}
	if got := countCall(evs, done.PID, event.CallStreamSynchronize); got == 0 || uint64(got) > syncs {
		t.Errorf("first workload: %d cuStreamSynchronize returns traced, it made %d", got, syncs)
	}

	// Forgotten: out of the tracked set, the kernel's map, and every probe closed.
	c.t.mu.Lock()
	_, a := c.t.targets[uint32(done.PID)]
	_, b := c.t.targets[uint32(killed.PID)]
	c.t.mu.Unlock()
	if a || b {
		t.Errorf("still tracked after exit: %v %v", a, b)
	}
	var flags uint32
	for _, pid := range []int{done.PID, killed.PID} {
		if err := c.t.objs.proc.Tracked.Lookup(uint32(pid), &flags); err == nil {
			t.Errorf("pid %d still in the kernel's tracked map", pid)
		}
	}
	c.t.detaching.Wait()
	for _, l := range links {
		if fd, ok := l.(interface{ FD() int }); ok && fd.FD() >= 0 {
			t.Errorf("link %v of the killed workload still open (fd %d)", l, fd.FD())
		}
	}
}

// targetLinks returns the CUDA probe links the tracer holds for pid.
func targetLinks(t *testing.T, tr *Tracer, pid int) []link.Link {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tg, ok := tr.targets[uint32(pid)]
	if !ok || tg.cuda == nil {
		return nil
	}
	return append(append([]link.Link(nil), tg.cuda.links...), tg.cuda.launch...)
}

func countCUDA(evs []event.Event, pid int, ret bool) int {
	n := 0
	for _, e := range evs {
		if c, ok := e.(*event.CUDA); ok && c.PID == uint32(pid) && c.Return == ret {
			n++
		}
	}
	return n
}

func countCall(evs []event.Event, pid int, call event.Call) int {
	n := 0
	for _, e := range evs {
		if c, ok := e.(*event.CUDA); ok && c.PID == uint32(pid) && c.Call == call && (c.Return || !call.IsWait()) {
			n++
		}
	}
	return n
}

// TestForkChild traces a process whose child, forked and exec'd after the tracer
// started, writes to a socket: the child is tracked from its fork, so its socket write
// is captured although user space never named it.
func TestForkChild(t *testing.T) {
	requireKernel(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(conn)
		conn.Close()
		got <- string(b)
	}()

	sp := exec.Command(os.Args[0], "-test.run=^$")
	sp.Env = append(os.Environ(), helperEnv+"=spawner", "INFERPROBE_TEST_ADDR="+ln.Addr().String())
	sp.Stderr = os.Stderr
	in, err := sp.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	defer sp.Process.Kill()
	c := startTracer(t, Config{PIDs: []int{sp.Process.Pid}, PayloadBytes: DefaultPayloadBytes})
	io.WriteString(in, "go\n")
	if err := sp.Wait(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != childHello {
		t.Fatalf("listener got %q", s)
	}
	c.waitFor(t, "spawner exit", 5*time.Second, procEvent(sp.Process.Pid, event.ProcExit))
	evs := c.snapshot()

	var fork *event.Proc
	for _, e := range evs {
		if p, ok := e.(*event.Proc); ok && p.Op == event.ProcFork && p.PPID == uint32(sp.Process.Pid) {
			fork = p
		}
	}
	if fork == nil {
		t.Fatal("no fork event from the spawner")
	}
	child := int(fork.PID)
	if e := findProc(evs, child, event.ProcExec); e == nil || e.PPID != uint32(sp.Process.Pid) {
		t.Errorf("child exec %+v, want one with ppid %d", e, sp.Process.Pid)
	}
	if e := findProc(evs, child, event.ProcExit); e == nil || e.Code != 0 {
		t.Errorf("child exit %+v, want code 0", e)
	}
	var writes, connects []*event.Sock
	for _, e := range evs {
		if s, ok := e.(*event.Sock); ok && s.PID == uint32(child) {
			switch s.Op {
			case event.OpWrite:
				writes = append(writes, s)
			case event.OpConnect:
				connects = append(connects, s)
			}
		}
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	if len(connects) != 1 || connects[0].RemotePort != port || connects[0].LocalPort == 0 ||
		len(writes) > 0 && writes[0].Conn != connects[0].Conn {
		t.Errorf("child connects %+v, want one to port %d on the connection it writes to", connects, port)
	}
	if len(writes) != 1 || string(writes[0].Data) != childHello || writes[0].Ret != int64(len(childHello)) {
		for _, w := range writes {
			t.Logf("write %+v", *w)
		}
		t.Errorf("child writes: %d, want one of %q", len(writes), childHello)
	}
}

// TestLaunchModes runs `cudriver bench launch` under each launch mode, switched at run
// time, with each process added by Track after the tracer started.
func TestLaunchModes(t *testing.T) {
	requireKernel(t)
	paths := fakecuda.BuildForTest(t)
	c := startTracer(t, Config{})
	const n = 20000
	for _, tc := range []struct {
		mode     LaunchMode
		min, max int
	}{
		{LaunchMode{}, n, n},
		// 1 in 10 per CPU: each CPU's count is off by at most one.
		{LaunchMode{Every: 10}, n/10 - runtime.NumCPU(), n/10 + runtime.NumCPU()},
		{LaunchMode{Off: true}, 0, 0},
		{LaunchMode{}, n, n},
	} {
		if err := c.t.SetLaunchMode(tc.mode); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		drv, err := fakecuda.StartBench(ctx, paths, fakecuda.BenchLaunch, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.t.Track(drv.PID); err != nil {
			t.Fatal(err)
		}
		probes := len(targetLinks(t, c.t, drv.PID))
		c.t.mu.Lock()
		launchLinks := len(c.t.targets[uint32(drv.PID)].cuda.launch)
		c.t.mu.Unlock()
		if err := drv.Go(); err != nil {
			t.Fatal(err)
		}
		if err := drv.Wait(); err != nil {
			t.Fatal(err)
		}
		cancel()
		c.waitFor(t, "exit", 5*time.Second, procEvent(drv.PID, event.ProcExit))
		got := countCall(c.snapshot(), drv.PID, event.CallLaunchKernel)
		if got < tc.min || got > tc.max {
			t.Errorf("mode %v: %d launches recorded of %d, want %d to %d", tc.mode, got, n, tc.min, tc.max)
		}
		if probes == 0 || (launchLinks == 0) != tc.mode.Off {
			t.Errorf("mode %v: %d probe links, %d of them for launches", tc.mode, probes, launchLinks)
		}
	}
	st, err := c.t.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.DropsTotal != 0 || st.AttachFailures != 0 || st.DecodeErrors != 0 {
		t.Errorf("stats %+v: want no drops, attach failures or decode errors", st)
	}
}

// TestExecIntoCUDA tracks a shell that then execs the CUDA workload: the exec is seen,
// and the rescan attaches to the libcuda the new image maps.
func TestExecIntoCUDA(t *testing.T) {
	requireKernel(t)
	paths := fakecuda.BuildForTest(t)
	sh := exec.Command("/bin/sh", "-c", `read line; exec "$0" loop 1.0`, paths.Driver)
	sh.Env = append(os.Environ(), "LD_LIBRARY_PATH="+paths.LibDir)
	in, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Process.Kill()
	pid := sh.Process.Pid
	c := startTracer(t, Config{PIDs: []int{pid}})
	if found := findProc(c.snapshot(), pid, event.ProcFound); found != nil && found.Libcuda != "" {
		t.Fatalf("the shell maps libcuda: %+v", found)
	}
	io.WriteString(in, "go\n")
	c.waitFor(t, "CUDA calls after the exec", 10*time.Second, func(evs []event.Event) bool { return countCUDA(evs, pid, true) > 0 })
	if err := sh.Wait(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "exit", 5*time.Second, procEvent(pid, event.ProcExit))
	evs := c.snapshot()
	ex := findProc(evs, pid, event.ProcExec)
	if ex == nil || ex.Comm != "cudriver" {
		t.Fatalf("exec event %+v, want comm cudriver", ex)
	}
	for _, e := range evs {
		if ce, ok := e.(*event.CUDA); ok && ce.PID == uint32(pid) && ce.TS < ex.TS {
			t.Errorf("CUDA event before the exec: %+v", ce)
		}
	}
	if exit := findProc(evs, pid, event.ProcExit); exit.Libcuda != paths.Lib {
		t.Errorf("exit event's libcuda %q, want %q", exit.Libcuda, paths.Lib)
	}
}
