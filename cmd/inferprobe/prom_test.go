package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promServer is a Prometheus server run by a test on loopback.
type promServer struct {
	base string
	cmd  *exec.Cmd
	log  *os.File
}

// startPrometheus runs Debian's prometheus scraping target (host:port/metrics) every
// second, with its storage in a temporary directory and the extra flags. Without one it returns nil and why.
func startPrometheus(t *testing.T, target string, flags ...string) (*promServer, string) {
	t.Helper()
	return startPrometheusRules(t, target, "", flags...)
}

// startPrometheusRules is startPrometheus evaluating the rules file (none when empty)
// every second.
func startPrometheusRules(t *testing.T, target, rules string, flags ...string) (*promServer, string) {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, "prometheus not installed (apt-get install prometheus): " + err.Error()
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: inferprobe
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['%s']
`, target)
	if rules != "" {
		cfg += fmt.Sprintf("rule_files: ['%s']\n", rules)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &promServer{base: "http://" + addr, log: logf}
	args := append([]string{"--config.file=" + filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--log.level=warn"}, flags...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, ""
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(logf.Name())
	t.Fatalf("prometheus not ready in 30s: %s", b)
	return nil, ""
}

type promSample struct {
	labels map[string]string
	value  float64
}

// query runs an instant PromQL query now.
func (p *promServer) query(t *testing.T, q string) []promSample {
	t.Helper()
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	var out []promSample
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("query %s: value %v", q, s.Value)
		}
		out = append(out, promSample{labels: s.Metric, value: v})
	}
	return out
}

// scalar runs a query that returns one sample.
func (p *promServer) scalar(t *testing.T, q string) float64 {
	t.Helper()
	s := p.query(t, q)
	if len(s) != 1 {
		t.Fatalf("query %s: %d samples, want 1", q, len(s))
	}
	return s[0].value
}

func (p *promServer) logs() string {
	b, _ := os.ReadFile(p.log.Name())
	return strings.TrimSpace(string(b))
}
