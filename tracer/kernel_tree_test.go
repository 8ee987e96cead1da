package tracer

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// A --pid target's children that were running before the tracer started (a server's
// engine and workers) are traced too, CUDA probes included.
func TestPIDExistingChildren(t *testing.T) {
	requireKernel(t)
	paths := fakecuda.BuildForTest(t)
	sh := exec.Command("sh", "-c", fmt.Sprintf("%s --lib %s loop 3 </dev/null >/dev/null; true", paths.Driver, paths.Lib))
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Process.Kill()
	// Wait until the child maps libcuda.
	var child int
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		out, _ := exec.Command("pgrep", "-P", fmt.Sprint(sh.Process.Pid)).Output()
		if f := strings.Fields(string(out)); len(f) == 1 {
			fmt.Sscan(f[0], &child)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the workload child did not start")
	}
	time.Sleep(300 * time.Millisecond)

	c := startTracer(t, Config{PIDs: []int{sh.Process.Pid}})
	c.waitFor(t, "launches from the child", 5*time.Second, func(evs []event.Event) bool {
		return countCall(evs, child, event.CallLaunchKernel)+countCall(evs, child, event.CallGraphLaunch) > 10
	})
	evs := c.stop(t)
	f := findProc(evs, child, event.ProcFound)
	if f == nil || f.PPID != uint32(sh.Process.Pid) || f.Libcuda == "" {
		t.Fatalf("found event of the child = %+v, want ppid %d and its libcuda", f, sh.Process.Pid)
	}
	if waits := countCUDA(evs, child, true); waits == 0 {
		t.Fatal("no return records from the child")
	}
}
