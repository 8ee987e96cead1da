package export

import (
	"math"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
)

// Tokens/s and requests/s come from the live counts over the time observed, so they are
// right before any record has settled (just after an attach); the batch size is the live
// count, or the final steps' when no streamed request gives one.
func TestTopWindowLiveRates(t *testing.T) {
	w := NewTopWindow(30 * time.Second)
	snap := func(tokens uint64, live float64, liveSteps int) []correlate.UnitSnapshot {
		return []correlate.UnitSnapshot{{Unit: "u", Running: 40, OutputTokens: tokens, Ended: tokens / 100, LiveBatch: live, LiveBatchSteps: liveSteps}}
	}
	const s = uint64(1e9)
	if r := w.Units(100*s, snap(5000, 0, 0)); len(r) != 1 || !math.IsNaN(r[0].TokensPerSec) && r[0].TokensPerSec != 0 || !math.IsNaN(r[0].Batch) {
		t.Fatalf("first frame: %+v", r)
	}
	w.Units(101*s, snap(5300, 37, 12))
	r := w.Units(102*s, snap(5800, 38, 12))
	if len(r) != 1 || r[0].TokensPerSec != 400 || r[0].RPS != 4 || r[0].Batch != 38 || r[0].Running != 40 {
		t.Fatalf("after 2 s: tokens/s %v (want 400) batch %v (want 38): %+v", r[0].TokensPerSec, r[0].Batch, r[0])
	}
	// A final step in the window: the live count still shows what runs now; with no
	// streamed request (live 0), the final steps' mean does.
	b := 40
	w.Step(&correlate.Step{Unit: "u", StartNS: 102*s + 1, EndNS: 102*s + 2e7, BatchSize: &b})
	r = w.Units(103*s, snap(6100, 38, 12))
	if r[0].Batch != 38 || r[0].TokensPerSec != (6100-5000)/3.0 {
		t.Fatalf("with a final step: batch %v tokens/s %v", r[0].Batch, r[0].TokensPerSec)
	}
	if r = w.Units(104*s, snap(6100, 0, 12)); r[0].Batch != 40 {
		t.Fatalf("no streamed request: batch %v, want the final steps' 40", r[0].Batch)
	}
	// Samples older than the window drop out of the rate.
	r = w.Units(140*s, snap(6100+37*100, 0, 0))
	if r[0].TokensPerSec != 3700/36.0 { // from the last sample before the window, at 104 s
		t.Fatalf("after the window moved: tokens/s %v, want %v", r[0].TokensPerSec, 3700/36.0)
	}
}
