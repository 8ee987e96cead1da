package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/load"
)

// scrapeEvery is how often the benchmark scrapes the agent.
const scrapeEvery = 15 * time.Second

// cpuSeconds is the user and system CPU time of a process so far (/proc/PID/stat).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	utime, err1 := strconv.ParseUint(f[11], 10, 64)          // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64)          // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return float64(utime+stime) / 100, nil // USER_HZ
}

// peakRSS is a process's peak resident set in bytes (VmHWM).
func peakRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// BenchmarkAgentCost measures the agent's own cost while the testbed serves about 20
// requests/s and 2,000 tokens/s for 20 s and the agent is scraped every 15 s: its CPU
// seconds per second and peak RSS, against the testbed's own CPU in the same run (which
// includes the uprobes' cost, paid in the traced process). Target: under 2% of one core
// and under 100 MB. One run whatever b.N: it takes longer than any -benchtime.
func BenchmarkAgentCost(b *testing.B) {
	requireKernel(b)
	truthPath := filepath.Join(b.TempDir(), "truth.jsonl")
	eng := startHelper(b, "engine", engineArgs(b, truthPath)...)
	url, pid := parseReady(b, eng.line(b, 30*time.Second))
	agent, metrics := startAgent(b, fmt.Sprintf("--pid=%d", pid))
	apid := agent.cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for sumBy(scrape(b, metrics)["inferprobe_agent_attached_processes"], "", nil)[""] < 1 {
		if time.Now().After(deadline) {
			b.Fatalf("agent did not attach: %s", agent.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	scraped := make(chan int)
	go func() { // a Prometheus scraping every 15 s (a usual scrape_interval)
		n := 0
		tick := time.NewTicker(scrapeEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				scraped <- n
				return
			case <-tick.C:
				scrape(b, metrics)
				n++
			}
		}
	}()
	cfg := e2eLoad(url, 20, 99)
	cfg.Bursts, cfg.OverlongFrac = nil, 0

	b.ResetTimer()
	a0, err := cpuSeconds(apid)
	if err != nil {
		b.Fatal(err)
	}
	e0, _ := cpuSeconds(pid)
	t0 := time.Now()
	sum, err := load.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	wall := time.Since(t0).Seconds()
	a1, _ := cpuSeconds(apid)
	e1, _ := cpuSeconds(pid)
	b.StopTimer()
	cancel()
	scrapes := <-scraped
	rss, err := peakRSS(apid)
	if err != nil {
		b.Fatal(err)
	}
	mfs := scrape(b, metrics)
	drops := sumBy(mfs["inferprobe_agent_dropped_events_total"], "", nil)[""]
	events := sumBy(mfs["inferprobe_agent_events_total"], "", nil)[""]
	agent.stop(b, 15*time.Second)
	eng.stop(b, 20*time.Second)

	agentCPU, engCPU := (a1-a0)/wall, (e1-e0)/wall
	b.ReportMetric(100*agentCPU, "%core-agent")
	b.ReportMetric(100*engCPU, "%core-testbed")
	b.ReportMetric(agentCPU/engCPU, "agent/testbed")
	b.ReportMetric(rss/1e6, "MB-peak-rss")
	b.ReportMetric(float64(sum.Tokens)/wall, "tokens/s")
	b.ReportMetric(float64(sum.Requests)/wall, "req/s")
	verdict := "within"
	if agentCPU > 0.02 || rss > 100e6 {
		verdict = "OVER"
	}
	b.Logf("%.1f s at %.1f req/s and %.0f tokens/s, %.0f events (%.0f/s), %g dropped, %d scrapes: agent %.2f%% of a core, peak RSS %.1f MB; testbed %.1f%% of a core (agent/testbed %.3f); %s the target (2%% of a core, 100 MB)",
		wall, float64(sum.Requests)/wall, float64(sum.Tokens)/wall, events, events/wall, drops, scrapes,
		100*agentCPU, rss/1e6, 100*engCPU, agentCPU/engCPU, verdict)
}
