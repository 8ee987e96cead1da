package accuracy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/correlate"
)

// TestReplayKept re-correlates the raw events of a kept run (INFERPROBE_ACCURACY_REPLAY=DIR,
// a directory an earlier run kept with INFERPROBE_ACCURACY_KEEP) and checks the bar again:
// correlation changes are checked on the same recordings, without root or a new run.
// INFERPROBE_ACCURACY_BUDGET=N gives the chunked mode the engine's token budget
// (correlate.Options.MaxNumBatchedTokens); INFERPROBE_ACCURACY_REPLAY_OUT=NAME keeps the
// replayed records beside the run's as NAME-requests.jsonl and NAME-steps.jsonl.
func TestReplayKept(t *testing.T) {
	dir := os.Getenv("INFERPROBE_ACCURACY_REPLAY")
	if dir == "" {
		t.Skip("set INFERPROBE_ACCURACY_REPLAY to a directory kept by INFERPROBE_ACCURACY_KEEP")
	}
	for _, m := range Modes {
		t.Run(m.Name, func(t *testing.T) {
			md := filepath.Join(dir, m.Name)
			if _, err := os.Stat(filepath.Join(md, RecordDir, EventsFile)); err != nil {
				t.Skip(err.Error())
			}
			opt := correlate.Options{ChunkedPrefill: m.Chunked}
			if b := os.Getenv("INFERPROBE_ACCURACY_BUDGET"); b != "" && m.Chunked {
				if _, err := fmt.Sscan(b, &opt.MaxNumBatchedTokens); err != nil {
					t.Fatalf("INFERPROBE_ACCURACY_BUDGET %q: %v", b, err)
				}
			}
			r, err := ReplayDir(md, opt, os.Getenv("INFERPROBE_ACCURACY_REPLAY_OUT"))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			r.Table(&b, m.Name+" (replayed)")
			t.Log("\n" + b.String())
			if f := r.Failures(); len(f) > 0 {
				t.Errorf("accuracy bar missed:\n%s", strings.Join(f, "\n"))
			}
		})
	}
}
