package export

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/inferprobe/inferprobe/gpu"
	"github.com/inferprobe/inferprobe/gpu/gputest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var updateGPUGolden = flag.Bool("update.gpu", false, "rewrite testdata/gpu.golden.prom")

const gpuGolden = "testdata/gpu.golden.prom"

// fixedSnapshot is a GPUSource that returns one snapshot.
type fixedSnapshot gpu.Snapshot

func (f fixedSnapshot) Latest() gpu.Snapshot { return gpu.Snapshot(f) }

// units maps the engine workers of GPUs 0-3 (and the API server, 3900) to vllm-a and
// those of GPUs 4-7 to vllm-b; other pids belong to no unit.
func units(pid uint32) string {
	switch {
	case pid == 3900 || pid >= 4100 && pid <= 4103:
		return "vllm-a"
	case pid >= 4104 && pid <= 4107:
		return "vllm-b"
	}
	return ""
}

// h100Snapshot samples the 8-GPU H100 server with: ECC not supported on GPU 7, an
// unmapped process and one without a memory figure on GPU 2, and XIDs 79 (twice) and 48
// on GPU 3 plus XID 31 from no particular GPU.
func h100Snapshot(t *testing.T) gpu.Snapshot {
	t.Helper()
	srv := gputest.New()
	srv.Set(7, func(f *gputest.Figures) {
		f.Fail = map[string]nvml.Return{"GetTotalEccErrors": nvml.ERROR_NOT_SUPPORTED}
	})
	srv.Set(2, func(f *gputest.Figures) {
		f.Processes = append(f.Processes,
			nvml.ProcessInfo{Pid: 5000, UsedGpuMemory: 300 << 20},
			nvml.ProcessInfo{Pid: 5001, UsedGpuMemory: math.MaxUint64})
	})
	xids := make(chan gpu.XIDEvent, 8)
	s, err := gpu.New(gpu.Options{Library: srv, XIDWaitTimeout: 20 * time.Millisecond, OnXID: func(e gpu.XIDEvent) { xids <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, x := range []uint64{79, 79, 48} {
		if err := srv.InjectXID(3, x); err != nil {
			t.Fatal(err)
		}
	}
	srv.InjectEvent(nvml.EventData{EventType: nvml.EventTypeXidCriticalError, EventData: 31})
	for range 4 {
		select {
		case <-xids:
		case <-time.After(5 * time.Second):
			t.Fatal("XID events not delivered")
		}
	}
	devs, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	return gpu.Snapshot{
		Time:     time.Date(2026, 1, 2, 3, 4, 5, 500e6, time.UTC),
		Devices:  devs,
		XIDs:     s.XIDs(),
		Failures: 2,
	}
}

func gpuRegistry(t *testing.T, src GPUSource) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewGPUCollector(src, units)); err != nil {
		t.Fatal(err)
	}
	return reg
}

// exposition is the text format of everything reg gathers (testutil's GatherAndFormat
// returns nothing unless given names).
func exposition(t *testing.T, reg prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if len(mfs) == 0 {
		t.Fatal("nothing gathered")
	}
	return buf.Bytes()
}

// The whole exposition of the H100 server against the golden file.
func TestGPUCollectorGolden(t *testing.T) {
	reg := gpuRegistry(t, fixedSnapshot(h100Snapshot(t)))
	if *updateGPUGolden {
		if err := os.WriteFile(gpuGolden, exposition(t, reg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(gpuGolden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(reg, f); err != nil {
		t.Error(err)
	}
}

// Figures checked by hand, independent of the golden file: unit conversions, throttle
// decoding, omitted series, the pid-to-unit mapping, XID counts.
func TestGPUCollectorValues(t *testing.T) {
	mfs, err := gpuRegistry(t, fixedSnapshot(h100Snapshot(t))).Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	// value finds the one series of name whose labels include want.
	value := func(name string, want map[string]string) (float64, bool) {
		for _, m := range byName[name].GetMetric() {
			match := 0
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
					match++
				}
			}
			if match == len(want) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue(), true
				}
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"inferprobe_gpu_utilization_ratio", map[string]string{"gpu": "5", "uuid": gputest.UUID(5), "name": "NVIDIA H100 80GB HBM3"}, 0.75},
		{"inferprobe_gpu_memory_utilization_ratio", map[string]string{"gpu": "5"}, 0.35},
		{"inferprobe_gpu_memory_used_bytes", map[string]string{"gpu": "1"}, 61000 * 1048576},
		{"inferprobe_gpu_memory_total_bytes", map[string]string{"gpu": "1"}, 85899345920},
		{"inferprobe_gpu_memory_free_bytes", map[string]string{"gpu": "1"}, 20920 * 1048576},
		{"inferprobe_gpu_temperature_celsius", map[string]string{"gpu": "7"}, 73},
		{"inferprobe_gpu_power_watts", map[string]string{"gpu": "3"}, 462.875},
		{"inferprobe_gpu_power_limit_watts", map[string]string{"gpu": "3"}, 700},
		{"inferprobe_gpu_sm_clock_hertz", map[string]string{"gpu": "6"}, 1.755e9},
		{"inferprobe_gpu_memory_clock_hertz", map[string]string{"gpu": "6"}, 2.619e9},
		{"inferprobe_gpu_throttle_active", map[string]string{"gpu": "3", "reason": "hw_slowdown"}, 1},
		{"inferprobe_gpu_throttle_active", map[string]string{"gpu": "3", "reason": "hw_thermal_slowdown"}, 1},
		{"inferprobe_gpu_throttle_active", map[string]string{"gpu": "3", "reason": "sw_power_cap"}, 0},
		{"inferprobe_gpu_throttle_active", map[string]string{"gpu": "7", "reason": "other"}, 1},
		{"inferprobe_gpu_ecc_errors_total", map[string]string{"gpu": "5", "type": "uncorrected"}, 2},
		{"inferprobe_gpu_ecc_lifetime_errors_total", map[string]string{"gpu": "5", "type": "uncorrected"}, 3},
		{"inferprobe_gpu_ecc_lifetime_errors_total", map[string]string{"gpu": "4", "type": "corrected"}, 44},
		{"inferprobe_gpu_xid_errors_total", map[string]string{"gpu": "3", "uuid": gputest.UUID(3), "xid": "79"}, 2},
		{"inferprobe_gpu_xid_errors_total", map[string]string{"gpu": "3", "xid": "48"}, 1},
		{"inferprobe_gpu_xid_errors_total", map[string]string{"gpu": "", "uuid": "", "xid": "31"}, 1},
		{"inferprobe_gpu_process_memory_bytes", map[string]string{"gpu": "0", "pid": "3900", "unit": "vllm-a"}, 512 << 20},
		{"inferprobe_gpu_process_memory_bytes", map[string]string{"gpu": "5", "pid": "4105", "unit": "vllm-b"}, 63000 << 20},
		{"inferprobe_gpu_process_memory_bytes", map[string]string{"gpu": "2", "pid": "5000", "unit": ""}, 300 << 20},
		{"inferprobe_gpu_sample_errors_total", nil, 2},
		{"inferprobe_gpu_last_sample_timestamp_seconds", nil, 1767323045.5},
	} {
		got, ok := value(c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for name, n := range map[string]int{
		"inferprobe_gpu_throttle_active":           8 * 12, // every known reason plus other, per GPU
		"inferprobe_gpu_ecc_errors_total":          7 * 2,  // GPU 7 has no ECC: no series
		"inferprobe_gpu_ecc_lifetime_errors_total": 7 * 2,
		"inferprobe_gpu_process_memory_bytes":      10, // 8 workers, the API server, pid 5000 (5001 has no figure)
		"inferprobe_gpu_xid_errors_total":          3,
		"inferprobe_gpu_temperature_celsius":       8,
	} {
		if got := len(byName[name].GetMetric()); got != n {
			t.Errorf("%s: %d series, want %d", name, got, n)
		}
	}
	if _, ok := value("inferprobe_gpu_ecc_errors_total", map[string]string{"gpu": "7"}); ok {
		t.Error("GPU 7 has an ECC series though ECC is not supported")
	}
}

// promtool check metrics lints the exposition (names, units, help, counter suffixes).
func TestGPUCollectorPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): " + err.Error())
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition(t, gpuRegistry(t, fixedSnapshot(h100Snapshot(t)))))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// Before the first sample there is nothing to say, and no error.
func TestGPUCollectorBeforeFirstSample(t *testing.T) {
	if n := testutil.CollectAndCount(NewGPUCollector(fixedSnapshot{}, nil)); n != 0 {
		t.Errorf("%d series before the first sample", n)
	}
}

// blockingSource samples once, then blocks until released, as a hung NVML would.
type blockingSource struct {
	once    sync.Once
	first   chan struct{}
	release chan struct{}
	calls   int
	mu      sync.Mutex
}

func (b *blockingSource) Sample() ([]gpu.Device, error) {
	b.mu.Lock()
	b.calls++
	n := b.calls
	b.mu.Unlock()
	if n > 1 {
		b.once.Do(func() { close(b.first) })
		<-b.release
		return nil, errors.New("nvml utilization gpu 0: ERROR_TIMEOUT")
	}
	return []gpu.Device{{Index: 0, UUID: "GPU-a", Name: "NVIDIA H100 80GB HBM3", TemperatureCelsius: new(61.0)}}, nil
}

func (b *blockingSource) XIDs() map[gpu.XIDKey]uint64 { return nil }

// A scrape reads the poller's last snapshot: a sample stuck in NVML never stalls it.
func TestGPUScrapeDoesNotWaitOnNVML(t *testing.T) {
	src := &blockingSource{first: make(chan struct{}), release: make(chan struct{})}
	p, err := gpu.NewPoller(src, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); close(src.release); <-done }()
	<-src.first // the second sample is now stuck
	reg := gpuRegistry(t, p)
	start := time.Now()
	want := `# HELP inferprobe_gpu_temperature_celsius GPU core temperature.
# TYPE inferprobe_gpu_temperature_celsius gauge
inferprobe_gpu_temperature_celsius{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-a"} 61
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "inferprobe_gpu_temperature_celsius"); err != nil {
		t.Error(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("scrape took %v while NVML hung", d)
	}
}
