package gpu

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/inferprobe/inferprobe/gpu/gputest"
)

func newSampler(t *testing.T, srv *gputest.Server) *Sampler {
	t.Helper()
	s, err := New(Options{Library: srv, XIDWaitTimeout: 20e6})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func eqF(t *testing.T, gpu int, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("gpu %d %s: no value, want %v", gpu, what, want)
	} else if math.Abs(*got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("gpu %d %s: %v, want %v", gpu, what, *got, want)
	}
}

func eqU(t *testing.T, gpu int, what string, got *uint64, want uint64) {
	t.Helper()
	if got == nil {
		t.Errorf("gpu %d %s: no value, want %d", gpu, what, want)
	} else if *got != want {
		t.Errorf("gpu %d %s: %d, want %d", gpu, what, *got, want)
	}
}

// Every figure of every GPU of the 8-GPU H100 server, in base units, computed here from
// the H100 figures by hand: percent/100, MiB<<20, mW/1000, MHz*1e6.
func TestSampleH100Server(t *testing.T) {
	s := newSampler(t, gputest.New())
	if s.Count() != 8 {
		t.Fatalf("%d GPUs, want 8", s.Count())
	}
	devs, err := s.Sample()
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if len(devs) != 8 {
		t.Fatalf("%d devices, want 8", len(devs))
	}
	const mib = 1 << 20
	wantThrottle := [][]string{{}, {"sw_power_cap"}, {}, {"hw_slowdown", "hw_thermal_slowdown"},
		{"sync_boost"}, {"applications_clocks_setting"}, {"sw_thermal_slowdown"}, {"gpu_idle", "other"}}
	for i, d := range devs {
		if d.Index != i || d.UUID != gputest.UUID(i) || d.Name != "NVIDIA H100 80GB HBM3" {
			t.Errorf("device %d: index %d uuid %q name %q", i, d.Index, d.UUID, d.Name)
		}
		eqF(t, i, "utilization", d.Utilization, float64(40+7*i)/100)
		eqF(t, i, "memory utilization", d.MemoryUtilization, float64(20+3*i)/100)
		eqU(t, i, "memory total", d.MemoryTotalBytes, 81920*mib)
		eqU(t, i, "memory used", d.MemoryUsedBytes, uint64(60000+1000*i)*mib)
		eqU(t, i, "memory free", d.MemoryFreeBytes, uint64(81920-60000-1000*i)*mib)
		eqF(t, i, "temperature", d.TemperatureCelsius, float64(45+4*i))
		eqF(t, i, "power", d.PowerWatts, 312.5+50.125*float64(i))
		eqF(t, i, "power limit", d.PowerLimitWatts, 700)
		sm := 1980e6
		if i == 6 {
			sm = 1755e6
		}
		eqF(t, i, "sm clock", d.SMClockHz, sm)
		eqF(t, i, "memory clock", d.MemoryClockHz, 2619e6)
		if d.Throttle == nil || !slices.Equal(d.Throttle.Names(), wantThrottle[i]) {
			t.Errorf("gpu %d throttle %v, want %q", i, d.Throttle, wantThrottle[i])
		}
		eqU(t, i, "ecc volatile corrected", d.ECC.VolatileCorrected, uint64(i))
		eqU(t, i, "ecc aggregate corrected", d.ECC.AggregateCorrected, uint64(11*i))
		var vu, au uint64
		if i == 5 {
			vu, au = 2, 3
		}
		eqU(t, i, "ecc volatile uncorrected", d.ECC.VolatileUncorrected, vu)
		eqU(t, i, "ecc aggregate uncorrected", d.ECC.AggregateUncorrected, au)

		if !d.ProcessesKnown {
			t.Errorf("gpu %d: processes unknown", i)
			continue
		}
		var want []Process
		if i == 0 { // sorted by pid: the API server (3900) before the worker
			want = append(want, Process{PID: 3900, UsedBytes: ptr(uint64(512 * mib))})
		}
		want = append(want, Process{PID: 4100 + uint32(i), UsedBytes: ptr(uint64(58000+1000*i) * mib)})
		if !slices.EqualFunc(d.Processes, want, func(a, b Process) bool { return a.PID == b.PID && *a.UsedBytes == *b.UsedBytes }) {
			t.Errorf("gpu %d processes %v, want %v", i, d.Processes, want)
		}
	}
}

// NOT_SUPPORTED is no value and no error, and the value is not asked for again.
func TestNotSupported(t *testing.T) {
	srv := gputest.New()
	srv.Set(2, func(f *gputest.Figures) {
		f.Fail = map[string]nvml.Return{
			"GetTotalEccErrors":            nvml.ERROR_NOT_SUPPORTED,
			"GetEnforcedPowerLimit":        nvml.ERROR_NOT_SUPPORTED,
			"GetClockInfo":                 nvml.ERROR_NOT_SUPPORTED,
			"GetComputeRunningProcesses":   nvml.ERROR_NOT_SUPPORTED,
			"GetCurrentClocksEventReasons": nvml.ERROR_NOT_SUPPORTED,
		}
	})
	s := newSampler(t, srv)
	for round := range 2 {
		devs, err := s.Sample()
		if err != nil {
			t.Fatalf("round %d: NOT_SUPPORTED gave an error: %v", round, err)
		}
		d := devs[2]
		if d.ECC != (ECCCounts{}) || d.PowerLimitWatts != nil || d.SMClockHz != nil || d.MemoryClockHz != nil ||
			d.Throttle != nil || d.ProcessesKnown || d.Processes != nil {
			t.Errorf("round %d: unsupported values present: %+v", round, d)
		}
		eqF(t, 2, "power", d.PowerWatts, 312.5+2*50.125) // the rest still read
		eqF(t, 2, "temperature", d.TemperatureCelsius, 53)
		eqU(t, 3, "ecc volatile corrected", devs[3].ECC.VolatileCorrected, 3) // other GPUs unaffected
	}
	calls := len(srv.Devices[2].(*server.Device).GetTotalEccErrorsCalls())
	// The first sample asks each of the 4 counters once; the second asks none.
	if calls != 4 {
		t.Errorf("ECC asked %d times over two samples, want 4 (not supported is remembered)", calls)
	}
}

// A real error is reported with the GPU and value; the other values and GPUs still read.
func TestRealErrorHasContext(t *testing.T) {
	srv := gputest.New()
	srv.Set(3, func(f *gputest.Figures) { f.Fail = map[string]nvml.Return{"GetTemperature": nvml.ERROR_UNKNOWN} })
	srv.Set(5, func(f *gputest.Figures) { f.Fail = map[string]nvml.Return{"GetPowerUsage": nvml.ERROR_NO_PERMISSION} })
	s := newSampler(t, srv)
	devs, err := s.Sample()
	if err == nil {
		t.Fatal("no error")
	}
	want := "nvml temperature gpu 3: ERROR_UNKNOWN\nnvml power gpu 5: ERROR_NO_PERMISSION"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !errors.Is(err, nvml.ERROR_NO_PERMISSION) {
		t.Error("the return code is not wrapped")
	}
	if devs[3].TemperatureCelsius != nil {
		t.Error("gpu 3 has a temperature")
	}
	eqF(t, 3, "power", devs[3].PowerWatts, 312.5+3*50.125)
	eqF(t, 5, "temperature", devs[5].TemperatureCelsius, 65)
	// An error is not "not supported": the next sample asks again and recovers.
	srv.Set(3, func(f *gputest.Figures) { f.Fail = nil })
	srv.Set(5, func(f *gputest.Figures) { f.Fail = nil })
	devs, err = s.Sample()
	if err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	eqF(t, 3, "temperature", devs[3].TemperatureCelsius, 57)
}

// A lost GPU reports one error and is not asked for more this sample.
func TestGPULost(t *testing.T) {
	srv := gputest.New()
	srv.Set(7, func(f *gputest.Figures) {
		f.Fail = map[string]nvml.Return{"GetUtilizationRates": nvml.ERROR_GPU_IS_LOST, "GetMemoryInfo": nvml.ERROR_GPU_IS_LOST}
	})
	s := newSampler(t, srv)
	devs, err := s.Sample()
	if err == nil || err.Error() != "nvml utilization gpu 7: ERROR_GPU_IS_LOST" {
		t.Errorf("error %v", err)
	}
	if d := devs[7]; d.UUID != gputest.UUID(7) || d.MemoryTotalBytes != nil || d.Utilization != nil {
		t.Errorf("lost gpu: %+v", d)
	}
	eqF(t, 6, "temperature", devs[6].TemperatureCelsius, 69)
}

// Drivers before R535 lack nvmlDeviceGetCurrentClocksEventReasons: the sampler uses the
// throttle-reasons call instead.
func TestThrottleReasonsOnOldDriver(t *testing.T) {
	srv := gputest.New()
	srv.HideSymbol("nvmlDeviceGetCurrentClocksEventReasons")
	srv.Set(1, func(f *gputest.Figures) {
		f.Fail = map[string]nvml.Return{"GetCurrentClocksEventReasons": nvml.ERROR_UNKNOWN}
	})
	s := newSampler(t, srv)
	devs, err := s.Sample()
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if d := devs[1]; d.Throttle == nil || *d.Throttle != ThrottleSWPowerCap {
		t.Errorf("gpu 1 throttle %v, want sw_power_cap", d.Throttle)
	}
}

// NVML_VALUE_NOT_AVAILABLE process memory is no value, the pid still listed.
func TestProcessMemoryNotAvailable(t *testing.T) {
	srv := gputest.New()
	srv.Set(4, func(f *gputest.Figures) {
		f.Processes = append(f.Processes, nvml.ProcessInfo{Pid: 5000, UsedGpuMemory: math.MaxUint64})
	})
	s := newSampler(t, srv)
	devs, _ := s.Sample()
	ps := devs[4].Processes
	if len(ps) != 2 || ps[0].PID != 4104 || ps[1].PID != 5000 || ps[1].UsedBytes != nil || *ps[0].UsedBytes != 62000<<20 {
		t.Errorf("processes %+v", ps)
	}
	srv.Set(4, func(f *gputest.Figures) { f.Processes = nil })
	devs, _ = s.Sample()
	if !devs[4].ProcessesKnown || len(devs[4].Processes) != 0 {
		t.Errorf("no process: known %v, %v", devs[4].ProcessesKnown, devs[4].Processes)
	}
}

// Identity that fails at New is retried by Sample.
func TestIdentityRetried(t *testing.T) {
	srv := gputest.New()
	srv.Set(0, func(f *gputest.Figures) { f.Fail = map[string]nvml.Return{"GetUUID": nvml.ERROR_UNKNOWN} })
	s := newSampler(t, srv)
	devs, err := s.Sample()
	if err == nil || !strings.Contains(err.Error(), "nvml uuid gpu 0: ERROR_UNKNOWN") || devs[0].UUID != "" {
		t.Errorf("first sample: uuid %q, err %v", devs[0].UUID, err)
	}
	eqF(t, 0, "temperature", devs[0].TemperatureCelsius, 45)
	srv.Set(0, func(f *gputest.Figures) { f.Fail = nil })
	devs, err = s.Sample()
	if err != nil || devs[0].UUID != gputest.UUID(0) {
		t.Errorf("second sample: uuid %q, err %v", devs[0].UUID, err)
	}
}

func TestClose(t *testing.T) {
	srv := gputest.New()
	s, err := New(Options{Library: srv, XIDWaitTimeout: 20e6})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if srv.Shutdowns() != 1 || srv.EventSetsFreed() != 1 {
		t.Errorf("shutdowns %d, event sets freed %d; want 1, 1", srv.Shutdowns(), srv.EventSetsFreed())
	}
	if _, err := s.Sample(); err == nil || err.Error() != "gpu sampler closed" {
		t.Errorf("Sample after Close: %v", err)
	}
}
