package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// TestAgentTargetsComeAndGo traces a parent process whose engine children come and go:
// the agent attaches to each engine as it appears, counts every request of both, and
// keeps serving after each one exits.
func TestAgentTargetsComeAndGo(t *testing.T) {
	requireKernel(t)
	sp := startHelper(t, "spawner")
	agent, metrics := startAgent(t, fmt.Sprintf("--pid=%d", sp.cmd.Process.Pid), "--capture.rescan-interval=200ms")
	total := 0
	for i, seed := range []uint64{11, 12} {
		truthPath := filepath.Join(t.TempDir(), fmt.Sprintf("truth%d.jsonl", i))
		fmt.Fprintf(sp.stdin, "start %s\n", strings.Join(engineArgs(t, truthPath), " "))
		url, pid := parseReady(t, sp.line(t, 30*time.Second))
		waitFor(t, 10*time.Second, fmt.Sprintf("the agent attached to engine %d (pid %d)", i, pid), func() bool {
			return sumBy(scrape(t, metrics)["inferprobe_agent_attached_processes"], "", nil)[""] >= 1
		})
		cfg := e2eLoad(url, 2, seed)
		cfg.Rate, cfg.Bursts = 10, nil
		if _, err := load.Run(context.Background(), cfg, io.Discard); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(sp.stdin, "stop")
		if l := sp.line(t, 30*time.Second); l != "stopped" {
			t.Fatalf("spawner said %q", l)
		}
		reqs, _, err := truth.Read(truthPath)
		if err != nil {
			t.Fatal(err)
		}
		total += len(reqs)
		waitFor(t, 15*time.Second, fmt.Sprintf("the agent counting the %d requests so far", total), func() bool {
			return int(sumBy(scrape(t, metrics)["inferprobe_requests_total"], "", nil)[""]) == total
		})
		mfs := scrape(t, metrics)
		t.Logf("engine %d (pid %d) gone after %d requests: units %v, attached %v, restarts %v", i, pid, len(reqs),
			sumBy(mfs["inferprobe_requests_total"], "unit", nil), sumBy(mfs["inferprobe_agent_attached_processes"], "", nil)[""],
			sumBy(mfs["inferprobe_unit_restarts_total"], "unit", nil))
	}
	launches := sumBy(scrape(t, metrics)["inferprobe_cuda_launches_total"], "", nil)[""]
	if launches == 0 {
		t.Errorf("no launches counted across the two engines")
	}
	agent.stop(t, 15*time.Second)
}
