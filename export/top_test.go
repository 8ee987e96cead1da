package export

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/gpu"
)

func fp(v float64) *float64 { return &v }
func up(v uint64) *uint64   { return &v }

func sampleView() TopView {
	nan := math.NaN()
	return TopView{
		Time:   time.Date(2026, 11, 27, 13, 2, 16, 0, time.UTC),
		Window: 30 * time.Second,
		Agent:  TopAgent{Tracked: 3, Attached: 1, EventsPerSec: 23456, Dropped: 2},
		Units: []TopUnit{
			{Name: "vllm:8000", RPS: 21.4, TokensPerSec: 2044.66, TTFT50: 0.0121, TTFT99: 0.2325, TPOT50: 0.0042, TPOT99: 0.0059,
				Waiting: 3, Running: 7, Batch: 7.83, Errors: map[string]int{"rate_limited": 2, "aborted": 1, "cuda_oom": 1},
				LongestWait: 4100 * time.Microsecond, Stalled: 0, HostIdle: 0.0581},
			{Name: "container:0123456789abcdef-with-a-long-name", RPS: 0, TokensPerSec: 0, TTFT50: nan, TTFT99: nan, TPOT50: nan, TPOT99: nan,
				Batch: nan, HostIdle: nan, LongestWait: 12 * time.Second, Stalled: 1},
		},
		GPUs: []TopGPU{
			{Index: 0, Name: "NVIDIA H100 80GB HBM3", Utilization: fp(0.93), MemUsed: up(71 << 30), MemTotal: up(80 << 30),
				Temperature: fp(64), Power: fp(612.4), PowerLimit: fp(700), Throttle: []string{"sw_power_cap"}},
			{Index: 1, Name: "NVIDIA H100 80GB HBM3"},
		},
		Notes: []string{"gpu health off: NVML not found (no NVIDIA driver on this host)"},
	}
}

func TestRenderTopGolden(t *testing.T) {
	got := RenderTop(sampleView(), 0)
	want := golden(t, "top.golden", []byte(got))
	if got != string(want) {
		t.Fatalf("render:\n%s\nwant:\n%s", got, want)
	}
	for i, l := range strings.Split(got, "\n") {
		if n := len([]rune(l)); n > TopWidth {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
	// At 80 columns the unit name narrows and WAIT, RUN and BATCH stay whole.
	at80 := strings.Split(RenderTop(sampleView(), 80), "\n")
	var head, row string
	for _, l := range at80 {
		if strings.HasPrefix(l, "UNIT") {
			head = l
		}
		if strings.HasPrefix(l, "vllm:8000") {
			row = l
		}
		if n := len([]rune(l)); n > 80 {
			t.Errorf("at width 80, %d columns: %q", n, l)
		}
	}
	if !strings.HasSuffix(head, "WAIT   RUN  BATCH") || !strings.HasSuffix(row, "3     7    7.8") {
		t.Errorf("at width 80:\n%s\n%s", head, row)
	}
	narrow := RenderTop(sampleView(), 60)
	for i, l := range strings.Split(narrow, "\n") {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("at width 60, line %d is %d columns", i+1, n)
		}
	}
}

func TestANSIFrame(t *testing.T) {
	got := ANSIFrame("a\nbc\n")
	if want := "\x1b[Ha\x1b[K\nbc\x1b[K\n\x1b[J"; got != want {
		t.Fatalf("frame %q, want %q", got, want)
	}
}

// TestTopWindow runs the synthetic stream into a window and checks the unit's row.
func TestTopWindow(t *testing.T) {
	w := NewTopWindow(30 * time.Second)
	w.Units(0, nil) // the view starts at stream time 0
	c := run(t, unitStream(), w, 1000)
	rows := w.Units(1000*ms, c.Snapshot(1000*ms))
	if len(rows) != 1 {
		t.Fatalf("rows = %+v", rows)
	}
	r := rows[0]
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %g, want %g", what, got, want)
		}
	}
	// 4 requests and 7 tokens over the 1 s seen so far.
	near("rps", r.RPS, 4)
	near("tokens/s", r.TokensPerSec, 7)
	near("ttft p50", r.TTFT50, 0.0112) // streamed A only
	near("tpot p99", r.TPOT99, 0.011)
	near("batch", r.Batch, 7.0/4)
	// Host gaps 1+1+1 ms against 4 steps of 10 ms.
	near("host idle", r.HostIdle, 3.0/43)
	if r.Errors["rate_limited"] != 1 || r.Errors["context_length"] != 1 || r.Errors["cuda_oom"] != 1 || len(r.Errors) != 3 {
		t.Errorf("errors = %v", r.Errors)
	}
	if r.Stalled != 1 || r.LongestWait != 840*time.Millisecond || r.Waiting != 0 || r.Running != 0 {
		t.Errorf("gauges: stalled %d wait %v waiting %d running %d", r.Stalled, r.LongestWait, r.Waiting, r.Running)
	}
	// 40 s later everything has left the window; the unit stays with its gauges.
	rows = w.Units(41000*ms, []correlate.UnitSnapshot{{Unit: "api:8000", Waiting: 2}})
	if len(rows) != 1 || rows[0].Requests != 0 || !math.IsNaN(rows[0].TTFT50) || rows[0].Waiting != 2 || rows[0].RPS != 0 {
		t.Errorf("after the window: %+v", rows)
	}
}

func TestTopGPUs(t *testing.T) {
	th := gpu.ThrottleGPUIdle | gpu.ThrottleSWPowerCap | gpu.ThrottleHWThermalSlowdown
	gs := TopGPUs(gpu.Snapshot{Devices: []gpu.Device{{Index: 3, Name: "H100", Throttle: &th, PowerWatts: fp(300)}}})
	if len(gs) != 1 || gs[0].Index != 3 || strings.Join(gs[0].Throttle, ",") != "sw_power_cap,hw_thermal_slowdown" || *gs[0].Power != 300 {
		t.Fatalf("gpus = %+v", gs)
	}
}
