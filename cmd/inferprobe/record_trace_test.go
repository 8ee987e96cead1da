package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/load"
)

// TestRecordTrace records the testbed under load and checks trace.json against the
// records beside it; replay rebuilds the same file from the raw events.
func TestRecordTrace(t *testing.T) {
	requireKernel(t)
	dir := t.TempDir()
	eng := startHelper(t, "engine", engineArgs(t, filepath.Join(dir, "truth.jsonl"))...)
	url, pid := parseReady(t, eng.line(t, 30*time.Second))
	out := filepath.Join(dir, "rec")
	rec := startHelper(t, "main", "record", fmt.Sprintf("--pid=%d", pid), "--duration=6s", "--out="+out)
	waitFor(t, 10*time.Second, "the recording to start", func() bool {
		return bytes.Contains([]byte(rec.Stderr()), []byte("msg=recording"))
	})
	time.Sleep(time.Second) // the engine's probes attach
	cfg := e2eLoad(url, 2, 5)
	cfg.Rate, cfg.Bursts = 10, nil
	if _, err := load.Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := rec.cmd.Wait(); err != nil {
		t.Fatalf("record: %v: %s", err, rec.Stderr())
	}
	eng.stop(t, 20*time.Second)

	reqs, err := export.ReadRequests(filepath.Join(out, export.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := export.ReadSteps(filepath.Join(out, export.StepsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) < 10 || len(steps) < 50 {
		t.Fatalf("recorded %d requests and %d steps", len(reqs), len(steps))
	}
	b, err := os.ReadFile(filepath.Join(out, export.TraceFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Name, Ph, Cat string
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("trace.json: %v", err)
	}
	count := map[string]int{}
	for _, e := range doc.TraceEvents {
		count[e.Ph+" "+e.Cat]++
	}
	if count["X request"] != len(reqs) || count["X step"] != len(steps) || count["C "] == 0 {
		t.Errorf("trace.json holds %v; the records %d requests and %d steps", count, len(reqs), len(steps))
	}

	again := filepath.Join(dir, "replayed")
	rp := startHelper(t, "main", "replay", out, "--out="+again)
	if err := rp.cmd.Wait(); err != nil {
		t.Fatalf("replay: %v: %s", err, rp.Stderr())
	}
	b2, err := os.ReadFile(filepath.Join(again, export.TraceFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("replay rebuilt a different trace.json (%d bytes, recorded %d)", len(b2), len(b))
	}
}
