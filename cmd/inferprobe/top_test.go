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
)

// TestTopPlain runs `inferprobe top` on a pipe: plain text blocks, one a second, with a
// row for the testbed's unit that counts its requests.
func TestTopPlain(t *testing.T) {
	requireKernel(t)
	eng := startHelper(t, "engine", engineArgs(t, filepath.Join(t.TempDir(), "truth.jsonl"))...)
	url, pid := parseReady(t, eng.line(t, 30*time.Second))
	top := startHelper(t, "main", "top", fmt.Sprintf("--pid=%d", pid), "--duration=5s")
	time.Sleep(time.Second)
	cfg := e2eLoad(url, 2, 3)
	cfg.Rate, cfg.Bursts = 10, nil
	if _, err := load.Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for l := range top.lines {
		lines = append(lines, l)
	}
	if err := top.cmd.Wait(); err != nil {
		t.Fatalf("top: %v: %s", err, top.Stderr())
	}
	eng.stop(t, 20*time.Second)
	frames, rows := 0, 0
	_, port, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	last := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "inferprobe top ") {
			frames++
		}
		if strings.HasSuffix(strings.Fields(l + " x")[0], ":"+port) {
			rows++
			last = l
		}
		if len(l) > 100 || strings.Contains(l, "\x1b") {
			t.Errorf("line not plain or wider than 100 columns: %q", l)
		}
	}
	if frames < 3 || rows < 2 {
		t.Fatalf("%d frames, %d unit rows:\n%s", frames, rows, strings.Join(lines, "\n"))
	}
	// The last row has requests per second and a TTFT.
	f := strings.Fields(last)
	if f[1] == "-" || f[1] == "0.0" || f[3] == "-" {
		t.Errorf("last unit row %q has no rate or TTFT", last)
	}
}
