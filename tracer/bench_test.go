package tracer

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/tracer/event"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// BenchmarkProbeCost times a tight loop of one driver call in `cudriver bench`, three
// ways in one run: with no probe, with an empty BPF program on the same uprobes (the
// floor any uprobe costs: the trap), and with inferprobe's probes. It reports ns per
// call of each and the probe's ratio to the floor (target for launches: <= 1.25).
func BenchmarkProbeCost(b *testing.B) {
	b.Run("launch", func(b *testing.B) { benchProbeCost(b, fakecuda.BenchLaunch, event.CallLaunchKernel) })
	b.Run("stream-sync", func(b *testing.B) { benchProbeCost(b, fakecuda.BenchStreamSync, event.CallStreamSynchronize) })
}

func benchProbeCost(b *testing.B, mode string, call event.Call) {
	requireKernel(b)
	paths := fakecuda.BuildForTest(b)
	b.StopTimer()
	none := benchRun(b, paths, mode, nil, false)
	floor := benchRun(b, paths, mode, func(pid int) func() { return attachEmpty(b, pid, call) }, false)
	var drops uint64
	probe := benchRun(b, paths, mode, func(pid int) func() {
		c := startTracer(b, Config{PIDs: []int{pid}})
		return func() {
			if st, err := c.t.Stats(); err == nil {
				drops = st.DropsTotal
			}
			c.stop(b)
		}
	}, true)
	b.ReportMetric(none, "ns/call-none")
	b.ReportMetric(floor, "ns/call-floor")
	b.ReportMetric(probe, "ns/call-probe")
	b.ReportMetric(probe/floor, "x-floor")
	b.ReportMetric(float64(drops), "drops")
	b.Logf("%s, %d calls: none %.0f ns/call, empty program %.0f ns/call, inferprobe %.0f ns/call (%.2fx the floor, %d drops)",
		mode, b.N, none, floor, probe, probe/floor, drops)
}

// benchRun runs `cudriver bench mode b.N` with attach's probes (none when nil) and
// returns the driver's ns per call. When timed, the benchmark's clock runs over the calls.
func benchRun(b *testing.B, paths fakecuda.Paths, mode string, attach func(pid int) (detach func()), timed bool) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	drv, err := fakecuda.StartBench(ctx, paths, mode, max(b.N, 1), nil)
	if err != nil {
		b.Fatal(err)
	}
	detach := func() {}
	if attach != nil {
		detach = attach(drv.PID)
	}
	if timed {
		b.StartTimer()
	}
	if err := drv.Go(); err != nil {
		b.Fatal(err)
	}
	err = drv.Wait()
	b.StopTimer()
	detach()
	if err != nil {
		b.Fatal(err)
	}
	ns, err := drv.NsPerCall()
	if err != nil {
		b.Fatal(err)
	}
	return ns
}

// attachEmpty attaches a program that does nothing to every variant of call in pid's
// libcuda, at entry and, when inferprobe probes the call's return, at return too; the
// same kind of link the tracer uses.
func attachEmpty(b *testing.B, pid int, call event.Call) (detach func()) {
	b.Helper()
	lib, ok, err := procfs.NewFS("").FindLib(pid, procfs.IsLibcuda)
	if !ok {
		b.Fatalf("libcuda of pid %d: %v", pid, err)
	}
	var p probe
	for _, p = range probes {
		if p.call == call {
			break
		}
	}
	syms, err := procfs.ELFSymbols(lib.OpenPath, p.candidates())
	if err != nil {
		b.Fatal(err)
	}
	variants := p.variants(syms)
	multi := haveUprobeMulti()
	spec := &ebpf.ProgramSpec{
		Type: ebpf.Kprobe, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
	if multi {
		spec.AttachType = ebpf.AttachTraceUprobeMulti
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		b.Fatal(err)
	}
	exe, err := link.OpenExecutable(lib.OpenPath)
	if err != nil {
		b.Fatal(err)
	}
	var links []link.Link
	for _, ret := range []bool{false, true} {
		if ret && p.prog != progCall {
			continue
		}
		if multi {
			attach := exe.UprobeMulti
			if ret {
				attach = exe.UretprobeMulti
			}
			l, err := attach(variants, prog, &link.UprobeMultiOptions{PID: uint32(pid)})
			if err != nil {
				b.Fatal(err)
			}
			links = append(links, l)
			continue
		}
		for _, s := range variants {
			attach := exe.Uprobe
			if ret {
				attach = exe.Uretprobe
			}
			l, err := attach(s, prog, &link.UprobeOptions{PID: pid})
			if err != nil {
				b.Fatal(err)
			}
			links = append(links, l)
		}
	}
	return func() {
		closeLinks(links)
		prog.Close()
	}
}

// BenchmarkDecode measures the ring reader's work per record on one core: decoding, and
// decoding with the name and capture resolution, over a launch-heavy mix.
func BenchmarkDecode(b *testing.B) {
	recs := [][]byte{
		launchRec(), launchRec(), launchRec(), launchRec(), launchRec(), launchRec(), launchRec(),
		callRec(event.CallStreamSynchronize, 0, 0), callRec(event.CallStreamSynchronize, 1, 0),
		sockRec(2, 5, 120, string(make([]byte, 120)), ""),
	}
	b.Run("decode", func(b *testing.B) {
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := Decode(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
	b.Run("decode+resolve", func(b *testing.B) {
		r := newResolver()
		for h := uint64(0); h < 64; h++ {
			r.set(100, 0xf00+h, "kernel")
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			e, err := Decode(recs[i%len(recs)])
			if err != nil {
				b.Fatal(err)
			}
			if c, ok := e.(*event.CUDA); ok {
				r.apply(c)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
}
