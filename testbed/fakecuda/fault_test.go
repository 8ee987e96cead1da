package fakecuda

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func findSeq(t *testing.T, calls []ReportCall, class string, seq uint64) ReportCall {
	t.Helper()
	for _, c := range calls {
		if c.Class == class && c.Seq == seq {
			return c
		}
	}
	t.Fatalf("no %s call number %d in the report", class, seq)
	return ReportCall{}
}

// A sticky fault on the 5th wait: that wait returns 700 once its work is done, and every
// call that starts after it returns 700 too.
func TestScriptStickyWaitFault(t *testing.T) {
	calls := runScript(t, "FAKECUDA_COST="+testCosts, "FAKECUDA_FAULT=wait:5:700")
	fault := findSeq(t, calls, "wait", 5)
	if fault.Result != 700 {
		t.Fatalf("wait 5 (%s) returned %d, want 700", fault.Symbol, fault.Result)
	}
	if fault.DurationNS() < fault.SimGPUNS {
		t.Errorf("faulting wait returned after %d ns, before its work's %d ns", fault.DurationNS(), fault.SimGPUNS)
	}
	var later, earlier700 int
	for _, c := range calls {
		switch {
		case c.StartNS > fault.EndNS:
			later++
			if c.Result != 700 {
				t.Errorf("%s (thread %d) after the fault returned %d, want 700", c.Symbol, c.Thread, c.Result)
			}
			if c.Class == "wait" && c.DurationNS() > waitSlackNS+c.RunDelayNS {
				t.Errorf("%s waited %d ns on a failed context, want an immediate return", c.Symbol, c.DurationNS())
			}
		case c.EndNS < fault.StartNS && c.Result == 700:
			earlier700++
		}
	}
	if later < 10 {
		t.Errorf("%d calls after the fault, want the rest of the script", later)
	}
	if earlier700 != 0 {
		t.Errorf("%d calls returned 700 before the fault", earlier700)
	}
}

// Non-sticky faults: the 3rd launch fails with 701 and queues nothing, the 2nd
// allocation fails with 2; everything else carries on.
func TestScriptLaunchAndAllocFaults(t *testing.T) {
	calls := runScript(t, "FAKECUDA_FAULT=launch:3:701,alloc:2:2")
	l := findSeq(t, calls, "launch", 3)
	if l.Result != 701 || l.CostNS != 0 {
		t.Errorf("launch 3 (%s): result %d cost %d, want 701 and nothing queued", l.Symbol, l.Result, l.CostNS)
	}
	a := findSeq(t, calls, "alloc", 2)
	if a.Result != 2 || a.Out != 0 {
		t.Errorf("alloc 2 (%s): result %d out %#x, want 2 and no pointer", a.Symbol, a.Result, a.Out)
	}
	// Everything else succeeds, but for the script's own OOM and missing_kernel lookup,
	// and the calls of the failed allocation's thread that use its (zero) pointer.
	for _, c := range calls {
		if c == l || c == a || c.Result == 0 {
			continue
		}
		switch {
		case c.Result == 2 && c.Thread == 0 && c.Symbol == "cuMemAlloc_v2" && c.Bytes == 2*80<<30:
		case c.Result == 500 && c.Kernel == "missing_kernel":
		case c.Result == 1 && c.Addr == 0 && c.Thread == a.Thread && c.StartNS > a.EndNS:
		default:
			t.Errorf("%s (thread %d, %s %d) returned %d", c.Symbol, c.Thread, c.Class, c.Seq, c.Result)
		}
	}
}

// A stalled wait blocks the extra time, and sim_gpu_ns includes it.
func TestScriptStall(t *testing.T) {
	const stall = 40 * time.Millisecond
	calls := runScript(t, "FAKECUDA_STALL=wait:3:40")
	w := findSeq(t, calls, "wait", 3)
	if w.StallNS != uint64(stall) || w.SimGPUNS < uint64(stall) || w.DurationNS() < uint64(stall) {
		t.Errorf("wait 3 (%s): stall %d sim %d took %d, want >= %v each", w.Symbol, w.StallNS, w.SimGPUNS, w.DurationNS(), stall)
	}
	if w.Result != 0 {
		t.Errorf("stalled wait returned %d", w.Result)
	}
	for _, c := range calls {
		if c.Class == "wait" && c.Seq != 3 && c.StallNS != 0 {
			t.Errorf("wait %d stalled too", c.Seq)
		}
	}
}

func TestBadEnvironment(t *testing.T) {
	p := BuildForTest(t)
	for _, env := range []string{
		"FAKECUDA_COST=early_kernel=fast:1",
		"FAKECUDA_COST=nocolon=5",
		"FAKECUDA_FAULT=wait:0:700",
		"FAKECUDA_FAULT=sleep:1:700",
		"FAKECUDA_FAULT=wait:1:1000",
		"FAKECUDA_STALL=alloc:1:5",
		"FAKECUDA_MEM_BYTES=80GB",
		"FAKECUDA_COPY_GBPS=0",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := StartScript(ctx, p, filepath.Join(t.TempDir(), "r.json"), []string{env})
		cancel()
		name, _, _ := strings.Cut(env, "=")
		if err == nil || !strings.Contains(err.Error(), "fakecuda: "+name) || !strings.Contains(err.Error(), "CUDA_ERROR_INVALID_VALUE") {
			t.Errorf("%s: error %v, want cuInit to fail naming %s", env, err, name)
		}
	}
}

func TestMemoryCapacity(t *testing.T) {
	// 4 MiB: thread 1's 6 MiB cuMemAllocAsync and thread 0's 160 GiB never fit; the
	// others depend on the interleaving. Every allocation succeeds or fails with 2.
	calls := runScript(t, "FAKECUDA_MEM_BYTES=4M")
	var oom int
	for _, c := range calls {
		if c.Class == "alloc" {
			if c.Result == 2 {
				oom++
			} else if c.Result != 0 {
				t.Errorf("%s: %d", c.Symbol, c.Result)
			}
		}
	}
	if oom < 2 {
		t.Errorf("%d allocations ran out of 4 MiB, want at least 2", oom)
	}
}
