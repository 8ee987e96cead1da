package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// A recorder killed with SIGKILL mid-load leaves records flushed up to the last second
// and a raw event stream that replay rebuilds (its cut-off last line skipped); a replay
// that fails on a corrupt stream leaves the records that were there, byte for byte.
func TestRecordSurvivesKill(t *testing.T) {
	requireKernel(t)
	dir := t.TempDir()
	truthPath := filepath.Join(dir, "truth.jsonl")
	eng := startHelper(t, "engine", engineArgs(t, truthPath)...)
	url, pid := parseReady(t, eng.line(t, 30*time.Second))
	out := filepath.Join(dir, "rec")
	rec := startHelper(t, "main", "record", fmt.Sprintf("--pid=%d", pid), "--out="+out)
	waitFor(t, 10*time.Second, "the recording to start", func() bool {
		return bytes.Contains([]byte(rec.Stderr()), []byte("msg=recording"))
	})
	cfg := e2eLoad(url, 8, 3)
	cfg.Rate, cfg.Bursts, cfg.AbortFrac, cfg.OverlongFrac = 15, nil, 0, 0
	done := make(chan error, 1)
	go func() { _, err := load.Run(context.Background(), cfg, io.Discard); done <- err }()
	time.Sleep(4 * time.Second)
	killed := truth.Now()
	rec.cmd.Process.Signal(syscall.SIGKILL)
	rec.cmd.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eng.stop(t, 20*time.Second)

	kept, err := export.ReadRequests(filepath.Join(out, export.RequestsFile))
	if err != nil {
		t.Fatalf("the records the killed recorder left: %v", err)
	}
	again := filepath.Join(dir, "again")
	rp := startHelper(t, "main", "replay", out, "--out="+again)
	if err := rp.cmd.Wait(); err != nil {
		t.Fatalf("replay of a killed recording: %v: %s", err, rp.Stderr())
	}
	reqs, err := export.ReadRequests(filepath.Join(again, export.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range reqs {
		got[r.ID] = true
	}
	treqs, _, err := truth.Read(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	want, missing := 0, []string{}
	for _, tr := range treqs {
		if !strings.HasPrefix(tr.Path, "/v1/") || tr.Status != 200 || tr.EndNS+1e9 > killed {
			continue
		}
		want++
		if !got[tr.ID] {
			missing = append(missing, tr.ID)
		}
	}
	if want < 20 || len(missing) > 0 {
		t.Fatalf("replay rebuilt %d requests; of the %d that finished a second before the kill, %d missing: %v", len(reqs), want, len(missing), missing)
	}
	if len(kept) == 0 {
		t.Errorf("the killed recorder left no request records (flushed every second)")
	}
	t.Logf("killed after 4 s: %d request records left, replay rebuilt %d, %d finished a second before the kill", len(kept), len(reqs), want)

	// A corrupt stream: every line garbage. The replay in place fails and leaves the
	// records as they were.
	before, err := os.ReadFile(filepath.Join(again, export.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(again, export.EventsFile), []byte("garbage\n\x00\x01\x02\n{\"type\":\"nope\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := startHelper(t, "main", "replay", again, "--in-place")
	if err := bad.cmd.Wait(); err == nil || !strings.Contains(bad.Stderr(), "no event in the stream") || !strings.Contains(bad.Stderr(), "line 1 is not an event") {
		t.Fatalf("replay of garbage: %v: %s", err, bad.Stderr())
	}
	after, err := os.ReadFile(filepath.Join(again, export.RequestsFile))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("a failed replay changed the records (%d bytes, were %d): %v", len(after), len(before), err)
	}
}
