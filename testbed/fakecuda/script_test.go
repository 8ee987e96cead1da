package fakecuda

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// testCosts make the script's waits hundreds of microseconds long.
const testCosts = "late_kernel_a=200000:1000,late_kernel_b=150000:500,early_kernel=50000:100,lib_kernel=30000:200"

// waitSlackNS is how late a wait may end past the simulated completion, once the time
// the thread sat on a run queue is taken off (the machine may be busy).
const waitSlackNS = 1_000_000

func runScript(t *testing.T, env ...string) []ReportCall {
	t.Helper()
	p := BuildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	report := filepath.Join(t.TempDir(), "report.json")
	proc, err := StartScript(ctx, p, report, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Go(); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil {
		t.Fatal(err)
	}
	calls, err := ReadReport(report)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

func byThread(calls []ReportCall) [2][]ReportCall {
	var out [2][]ReportCall
	for _, c := range calls {
		out[c.Thread] = append(out[c.Thread], c)
	}
	return out
}

func TestScriptReport(t *testing.T) {
	calls := runScript(t, "FAKECUDA_COST="+testCosts)
	model, err := ParseCostModel(testCosts)
	if err != nil {
		t.Fatal(err)
	}
	threads := byThread(calls)
	for k, tc := range threads {
		var syms []string
		for i, c := range tc {
			syms = append(syms, c.Symbol)
			if i > 0 && c.StartNS < tc[i-1].EndNS {
				t.Errorf("thread %d call %d (%s) starts before the previous one ended", k, i, c.Symbol)
			}
			if c.TID != tc[0].TID || c.TID == 0 {
				t.Errorf("thread %d call %d: tid %d, first call's %d", k, i, c.TID, tc[0].TID)
			}
		}
		if !slices.Equal(syms, ScriptSymbols[k]) {
			t.Errorf("thread %d symbols:\n got %q\nwant %q", k, syms, ScriptSymbols[k])
		}
	}
	if threads[0][0].TID == threads[1][0].TID {
		t.Error("both script threads report one tid")
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].StartNS < calls[i-1].StartNS {
			t.Errorf("report not in call order at %d", i)
		}
	}

	// Families: the probed ones are the tracer's.
	for _, c := range calls {
		_, err := event.ParseCall(c.Call)
		if c.Probed != (err == nil) {
			t.Errorf("%s: family %q probed=%v, tracer/event says %v", c.Symbol, c.Call, c.Probed, err)
		}
		if !strings.HasPrefix(c.Symbol, c.Call) && c.Call != "cuGraphInstantiate" {
			t.Errorf("%s: family %q is not its prefix", c.Symbol, c.Call)
		}
	}

	// Results: everything succeeds but thread 0's oversized allocation and thread 1's
	// lookup of a kernel the module lacks.
	var oom, notFound int
	for _, c := range calls {
		switch {
		case c.Result == 2:
			oom++
			if c.Symbol != "cuMemAlloc_v2" || c.Call != "cuMemAlloc" || c.Thread != 0 || c.Bytes != 2*80<<30 {
				t.Errorf("OOM on %+v, want thread 0's cuMemAlloc_v2 of 160 GiB", c)
			}
		case c.Result == 500:
			notFound++
			if c.Call != "cuModuleGetFunction" || c.Kernel != "missing_kernel" || c.Handle != 0 {
				t.Errorf("NOT_FOUND on %+v, want the missing_kernel lookup", c)
			}
		case c.Result != 0:
			t.Errorf("%s (thread %d) returned %d", c.Symbol, c.Thread, c.Result)
		}
	}
	if oom != 1 || notFound != 1 {
		t.Errorf("%d OOM and %d NOT_FOUND results, want 1 and 1", oom, notFound)
	}

	// Counting classes: 14 waits, 22 launches (16 kernels, 6 of them captured, and 6
	// graph launches), 6 allocations, 6 async copies.
	seqs := map[string][]uint64{}
	for _, c := range calls {
		if c.Class != "" {
			seqs[c.Class] = append(seqs[c.Class], c.Seq)
		}
	}
	for class, n := range map[string]int{"wait": 14, "launch": 22, "alloc": 6, "copy": 6} {
		got := slices.Sorted(slices.Values(seqs[class]))
		if len(got) != n || got[0] != 1 || got[n-1] != uint64(n) {
			t.Errorf("%s sequence numbers %v, want 1..%d", class, got, n)
		}
	}

	checkLaunchCosts(t, threads, model)
	checkHandles(t, threads)
	checkWaits(t, calls)
}

// checkLaunchCosts: each kernel launch queued the model's cost, the three launches
// inside a capture are marked and nothing else is, and each graph launch queued the sum
// of what its thread captured; the wait after the graph launches covers them.
func checkLaunchCosts(t *testing.T, threads [2][]ReportCall, model CostModel) {
	t.Helper()
	for k, tc := range threads {
		capturing := false
		var graphNS, captured uint64
		var firstGraph *ReportCall
		for i := range tc {
			c := &tc[i]
			switch c.Call {
			case "cuStreamBeginCapture":
				capturing = true
			case "cuStreamEndCapture":
				capturing = false
			case "cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel":
				if want := model.KernelNS(c.Kernel, c.Grid); c.CostNS != want {
					t.Errorf("thread %d %s %s %v: cost %d, want %d", k, c.Symbol, c.Kernel, c.Grid, c.CostNS, want)
				}
				if c.Captured != capturing {
					t.Errorf("thread %d %s %s: captured=%v during capture=%v", k, c.Symbol, c.Kernel, c.Captured, capturing)
				}
				if capturing {
					graphNS += c.CostNS
					captured++
				}
			case "cuGraphLaunch":
				if c.CostNS != graphNS || graphNS == 0 || c.Captured {
					t.Errorf("thread %d graph launch cost %d, want the captured %d", k, c.CostNS, graphNS)
				}
				if firstGraph == nil {
					firstGraph = c
				}
			case "cuStreamSynchronize":
				if firstGraph != nil {
					// The stream was idle before the graph launches (an event sync came
					// before), so the wait covers 3 graphs less the time since the first.
					elapsed := c.StartNS - firstGraph.StartNS
					if c.SimGPUNS > 3*graphNS || c.SimGPUNS+elapsed < 3*graphNS {
						t.Errorf("thread %d: sync after 3 graph launches of %d ns covers %d ns (%d ns after the first)",
							k, graphNS, c.SimGPUNS, elapsed)
					}
					firstGraph = nil
				}
			}
		}
		if captured != 3 {
			t.Errorf("thread %d captured %d launches, want 3", k, captured)
		}
	}
}

// checkHandles: a name has one handle; handles of different names differ.
func checkHandles(t *testing.T, threads [2][]ReportCall) {
	t.Helper()
	byName := map[string]uint64{}
	for _, tc := range threads {
		for _, c := range tc {
			switch c.Call {
			case "cuLaunchKernel", "cuLaunchCooperativeKernel", "cuLaunchKernelEx", "cuModuleGetFunction":
				if c.Result != 0 {
					continue
				}
				if c.Handle == 0 {
					t.Errorf("%s %s: zero handle", c.Symbol, c.Kernel)
				}
				if h, ok := byName[c.Kernel]; ok && h != c.Handle {
					t.Errorf("%s %s: handle %#x, earlier %#x", c.Symbol, c.Kernel, c.Handle, h)
				}
				byName[c.Kernel] = c.Handle
			case "cuKernelGetFunction":
				if h, ok := byName["lib_kernel"]; ok && h != c.Out {
					t.Errorf("cuKernelGetFunction gave %#x, lib_kernel launched as %#x", c.Out, h)
				}
				byName["lib_kernel"] = c.Out
			}
		}
	}
	seen := map[uint64]string{}
	for name, h := range byName {
		if other, dup := seen[h]; dup {
			t.Errorf("%s and %s share handle %#x", name, other, h)
		}
		seen[h] = name
	}
	if len(byName) != 4 {
		t.Errorf("kernel handles %v, want early_kernel, late_kernel_a, late_kernel_b, lib_kernel", byName)
	}
}

// checkWaits: no wait returns before the simulated completion, nor (run-queue time
// aside) more than waitSlackNS after it.
func checkWaits(t *testing.T, calls []ReportCall) {
	t.Helper()
	for _, c := range calls {
		if c.Class != "wait" {
			if c.SimGPUNS != 0 {
				t.Errorf("%s: sim_gpu_ns %d on a call that does not wait", c.Symbol, c.SimGPUNS)
			}
			continue
		}
		d := c.DurationNS()
		if d < c.SimGPUNS {
			t.Errorf("%s (thread %d) returned after %d ns, before its work's %d ns", c.Symbol, c.Thread, d, c.SimGPUNS)
		}
		if late := int64(d) - int64(c.SimGPUNS) - int64(c.RunDelayNS); late > waitSlackNS {
			t.Errorf("%s (thread %d) returned %d ns after its work completed (run queue %d ns)",
				c.Symbol, c.Thread, d-c.SimGPUNS, c.RunDelayNS)
		}
	}
}
