package main

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSMI(t *testing.T) {
	out := "0, 1024, 81559, 35, 71.20, 700.00, 345, 2619\n87, 40000, 81559, 52, 410.5, 700.00, 1980, 2619\n"
	v, err := parseSMI(out, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v[0] != 87 || v[1] != 40000 || v[4] != 410.5 || v[6] != 1980 {
		t.Errorf("gpu 1: %v", v)
	}
	v, err = parseSMI("[N/A], 1, 2, 3, [Not Supported], 5, 6, 7\n", 0)
	if err != nil || !math.IsNaN(v[0]) || !math.IsNaN(v[4]) || v[3] != 3 {
		t.Errorf("unsupported fields: %v, %v", v, err)
	}
	for _, bad := range []string{"1, 2, 3\n", "a, 1, 2, 3, 4, 5, 6, 7\n", ""} {
		if _, err := parseSMI(bad, 0); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

const metricsFixture = `# HELP inferprobe_gpu_power_watts Board power draw.
# TYPE inferprobe_gpu_power_watts gauge
inferprobe_gpu_power_watts{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 300
inferprobe_gpu_power_watts{gpu="1",name="NVIDIA H100 80GB HBM3",uuid="GPU-2"} 90
inferprobe_gpu_utilization_ratio{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 0.87
inferprobe_gpu_memory_used_bytes{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 4.194304e+10
inferprobe_gpu_memory_total_bytes{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 8.5520809984e+10
inferprobe_gpu_temperature_celsius{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 52
inferprobe_gpu_power_limit_watts{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 700
inferprobe_gpu_sm_clock_hertz{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-1"} 1.98e+09
inferprobe_requests_total{unit="x"} 5
inferprobe_gpu_last_sample_timestamp_seconds %d
`

func TestMetricValues(t *testing.T) {
	names := map[string]bool{"inferprobe_gpu_power_watts": true, "inferprobe_gpu_last_sample_timestamp_seconds": true}
	v, err := metricValues(strings.NewReader(fmt.Sprintf(metricsFixture, 1700000000)), names, map[string]string{"gpu": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if v["inferprobe_gpu_power_watts"] != 90 || v["inferprobe_gpu_last_sample_timestamp_seconds"] != 1.7e9 || len(v) != 2 {
		t.Errorf("values %v", v)
	}
	if _, err := metricValues(strings.NewReader("inferprobe_gpu_power_watts{gpu=\"0\"} abc\n"), names, nil); err == nil {
		t.Error("a non-numeric value parsed")
	}
}

// TestNVMLCommand runs the comparison against a metrics server and a fake nvidia-smi whose
// power differs by 110 W and whose memory clock the agent lacks.
func TestNVMLCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, metricsFixture, 0) // a sample from 1970: the age shows it
	}))
	defer srv.Close()
	smi := filepath.Join(t.TempDir(), "nvidia-smi")
	script := "#!/bin/sh\necho '86, 40000, 81559, 51, 410.00, 700.00, 1980, 2619'\n"
	if err := os.WriteFile(smi, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runNVML([]string{"--url", srv.URL, "--samples", "2", "--interval", "10ms", "--smi", smi}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, row := range [][]string{
		{"utilization.gpu", "%", "86", "87", "1", "15", "2/2", "match"},
		{"memory.used", "MiB", "40000", "40000", "0", "400", "2/2", "match"},
		{"memory.total", "MiB", "81559", "81559", "0", "1", "2/2", "match"},
		{"temperature.gpu", "C", "51", "52", "1", "2", "2/2", "match"},
		{"power.draw", "W", "410", "300", "110", "41", "0/2", "MISMATCH"},
		{"power.limit", "W", "700", "700", "0", "1", "2/2", "match"},
		{"clocks.sm", "MHz", "1980", "1980", "0", "99", "2/2", "match"},
		{"clocks.mem", "MHz", "-", "-", "-", "0", "0/0", "no value"},
	} {
		if !rowHas(s, row...) {
			t.Errorf("no row %v in:\n%s", row, s)
		}
	}
	if !strings.Contains(s, "sample 2 (agent's NVML read 17") { // seconds since 1970: 1.7e9 and more
		t.Errorf("age missing:\n%s", s)
	}
	if err := runNVML([]string{"--url", srv.URL + "/nope", "--samples", "1", "--smi", "/nonexistent/nvidia-smi"}, &bytes.Buffer{}); err == nil {
		t.Error("a missing nvidia-smi passed")
	}
}
