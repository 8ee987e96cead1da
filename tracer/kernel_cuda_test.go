package tracer

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// TestCUDAScript attaches to a fakecuda workload after it started and holds every event
// to the driver's own report of phase 2: the same calls per thread, in order, with the
// same arguments, handles, results and kernel names, and waits that last as long.
func TestCUDAScript(t *testing.T) {
	requireKernel(t)
	paths := fakecuda.BuildForTest(t)
	for _, tc := range []struct {
		name  string
		env   []string
		fault int32 // the CUresult injected, 0 for none
		perf  bool  // one perf-event uprobe per entry point instead of uprobe_multi links
	}{
		{name: "clean"},
		// The last (14th) wait of the process fails with 700, an illegal address.
		{name: "fault", env: []string{"FAKECUDA_FAULT=wait:14:700"}, fault: 700},
		{name: "perf-uprobes", perf: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			drv, err := fakecuda.StartScript(ctx, paths, report, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			c := startTracer(t, Config{PIDs: []int{drv.PID}, perfUprobes: tc.perf})
			if err := drv.Go(); err != nil {
				t.Fatal(err)
			}
			if err := drv.Wait(); err != nil {
				t.Fatal(err)
			}
			c.waitFor(t, "exit event", 5*time.Second, procEvent(drv.PID, event.ProcExit))
			evs := c.stop(t)
			calls, err := fakecuda.ReadReport(report)
			if err != nil {
				t.Fatal(err)
			}
			checkScript(t, drv.PID, paths.Lib, calls, evs, tc.fault)
		})
	}
}

func checkScript(t *testing.T, pid int, lib string, calls []fakecuda.ReportCall, evs []event.Event, fault int32) {
	found := findProc(evs, pid, event.ProcFound)
	if found == nil || found.Comm != "cudriver" || found.Libcuda != lib {
		t.Errorf("found event %+v, want comm cudriver, libcuda %s", found, lib)
	}
	if exit := findProc(evs, pid, event.ProcExit); exit == nil || exit.Code != 0 {
		t.Errorf("exit event %+v, want code 0", exit)
	}

	// The report's probed calls and the events, per thread.
	want := map[uint32][]fakecuda.ReportCall{}
	wantCount := map[string]int{}
	for _, c := range calls {
		if c.Probed {
			want[uint32(c.TID)] = append(want[uint32(c.TID)], c)
			wantCount[c.Call]++
		}
	}
	got := map[uint32][]*event.CUDA{}
	entries := map[uint32][]*event.CUDA{}
	gotCount := map[string]int{}
	lastTS := map[uint32]uint64{}
	for _, e := range evs {
		ce, ok := e.(*event.CUDA)
		if !ok || ce.PID != uint32(pid) {
			continue
		}
		if ce.TS < lastTS[ce.TID] {
			t.Errorf("tid %d: %v at %d after an event at %d", ce.TID, ce.Call, ce.TS, lastTS[ce.TID])
		}
		lastTS[ce.TID] = ce.TS
		if ce.Call.IsWait() && !ce.Return {
			entries[ce.TID] = append(entries[ce.TID], ce)
			continue
		}
		got[ce.TID] = append(got[ce.TID], ce)
		gotCount[ce.Call.String()]++
	}
	for call, n := range wantCount {
		if gotCount[call] != n {
			t.Errorf("%s: %d events, driver made %d calls", call, gotCount[call], n)
		}
	}
	for call, n := range gotCount {
		if wantCount[call] == 0 {
			t.Errorf("%s: %d events, driver made none", call, n)
		}
	}
	if len(want) != 2 {
		t.Fatalf("report has %d threads, want 2", len(want))
	}

	var early uint64 // early_kernel's CUfunction, looked up before the tracer attached
	seen := map[string]int{}
	for tid, wcalls := range want {
		gcalls := got[tid]
		if len(gcalls) != len(wcalls) {
			t.Errorf("tid %d: %d events, %d calls", tid, len(gcalls), len(wcalls))
			continue
		}
		ents := entries[tid]
		for i, w := range wcalls {
			g := gcalls[i]
			where := fmt.Sprintf("tid %d call %d %s", tid, i, w.Symbol)
			if g.Call.String() != w.Call {
				t.Errorf("%s: event is %v", where, g.Call)
				continue
			}
			checkReportCall(t, where, w, g)
			if w.Call == "cuLaunchKernel" && w.Kernel == "early_kernel" {
				early = w.Handle
				if g.Kernel != "" {
					t.Errorf("%s: kernel %q for a function looked up before attach, want \"\"", where, g.Kernel)
				}
			}
			if g.Call.IsWait() {
				checkWait(t, where, w, g, &ents)
			}
			if g.Result != 0 {
				seen[fmt.Sprintf("%s=%d", g.Call, g.Result)]++
			}
		}
		if len(ents) != 0 {
			t.Errorf("tid %d: %d wait entry records left unmatched", tid, len(ents))
		}
	}
	if early == 0 {
		t.Error("no early_kernel launch in the report")
	}
	if seen["cuMemAlloc=2"] != 1 {
		t.Errorf("failed calls %v, want one cuMemAlloc out of memory (2)", seen)
	}
	if seen["cuModuleGetFunction=500"] != 1 {
		t.Errorf("failed calls %v, want one cuModuleGetFunction not found (500)", seen)
	}
	if fault != 0 {
		if seen[fmt.Sprintf("cuCtxSynchronize=%d", fault)] != 1 {
			t.Errorf("failed calls %v, want the injected %d of the last cuCtxSynchronize", seen, fault)
		}
	}
}

// checkReportCall compares one event with the driver's record of the call.
func checkReportCall(t *testing.T, where string, w fakecuda.ReportCall, g *event.CUDA) {
	t.Helper()
	if g.Result != w.Result && !g.Call.IsLaunch() { // launches are entry records: no result
		t.Errorf("%s: result %d, driver saw %d", where, g.Result, w.Result)
	}
	// The probe's times nest inside the driver's own around the call.
	if g.Start < w.StartNS || g.TS > w.EndNS || g.TS < g.Start {
		t.Errorf("%s: event [%d, %d] outside the call [%d, %d]", where, g.Start, g.TS, w.StartNS, w.EndNS)
	}
	stream := w.Stream
	if stream == 0 && (strings.Contains(w.Symbol, "_ptsz") || strings.Contains(w.Symbol, "_ptds")) {
		stream = 2 // the per-thread default stream the variant implies
	}
	if g.Stream != stream {
		t.Errorf("%s: stream %#x, want %#x", where, g.Stream, stream)
	}
	if g.Handle != w.Handle {
		t.Errorf("%s: handle %#x, want %#x", where, g.Handle, w.Handle)
	}
	if w.Out != 0 && g.Out != w.Out {
		t.Errorf("%s: out %#x, want %#x", where, g.Out, w.Out)
	}
	if g.Bytes != w.Bytes && (w.Call != "cuMemMap" || w.Bytes != 0) {
		t.Errorf("%s: bytes %d, want %d", where, g.Bytes, w.Bytes)
	}
	if g.Addr != w.Addr {
		t.Errorf("%s: addr %#x, want %#x", where, g.Addr, w.Addr)
	}
	if g.Call.IsLaunch() {
		if g.Grid != w.Grid || g.Block != w.Block {
			t.Errorf("%s: grid %v block %v, want %v %v", where, g.Grid, g.Block, w.Grid, w.Block)
		}
		if g.Captured != w.Captured {
			t.Errorf("%s: captured %v, want %v", where, g.Captured, w.Captured)
		}
	}
	if w.Kernel != "" && w.Kernel != "early_kernel" && g.Kernel != w.Kernel && w.Result == 0 {
		t.Errorf("%s: kernel %q, want %q", where, g.Kernel, w.Kernel)
	}
}

// checkWait matches a wait's return with its entry record and holds its duration to the
// simulated GPU time it waited for.
func checkWait(t *testing.T, where string, w fakecuda.ReportCall, g *event.CUDA, ents *[]*event.CUDA) {
	t.Helper()
	if len(*ents) == 0 {
		t.Errorf("%s: no entry record", where)
		return
	}
	e := (*ents)[0]
	*ents = (*ents)[1:]
	if e.Call != g.Call || e.Start != g.Start || e.TS != e.Start || e.Stream != g.Stream || e.Handle != g.Handle {
		t.Errorf("%s: entry %+v does not match return %+v", where, e, g)
	}
	// The wait blocks until the GPU work it waits for is done: sim_gpu_ns after the
	// call began. Uprobe entry and return cost microseconds; a loaded machine can keep
	// the thread off the CPU for run_delay_ns more.
	d := int64(g.Duration())
	sim := int64(w.SimGPUNS)
	if d < sim-50_000 || d > sim+2_000_000+int64(w.RunDelayNS) {
		t.Errorf("%s: wait of %d ns, simulated GPU time %d ns (run delay %d ns)", where, d, sim, w.RunDelayNS)
	}
}
