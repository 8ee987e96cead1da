package gpustep

import (
	"math"
	"testing"
)

func TestWindow(t *testing.T) {
	a, b, c := ev{10, 11}, ev{10, 12}, ev{10, 13}
	evs := cat(
		a.kernel(1*ms, "k"), a.sync(2*ms, 12*ms),
		a.graph(13*ms), b.kernel(15*ms, "k"), a.sync(13*ms+1*us, 20*ms), b.sync(16*ms, 25*ms),
		c.kernel(30*ms, "k"), // open at the window's end
	)
	for _, tt := range []struct {
		name     string
		cfg      Config
		from, to uint64
		busy     uint64
		steps    int
		complete bool
	}{
		{"all", Config{}, 0, 40 * ms, 11*ms + 12*ms + 10*ms, 3, true},
		{"clipped", Config{}, 5 * ms, 14 * ms, 7*ms + 1*ms, 1 + 1, true},
		{"idle only", Config{}, 26 * ms, 29 * ms, 0, 0, true},
		{"history too short", Config{WindowSteps: 2}, 0, 40 * ms, 12*ms + 10*ms, 2, false},
		{"history covers it", Config{WindowSteps: 2}, 14 * ms, 40 * ms, 11*ms + 10*ms, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := run(t, tt.cfg, evs)
			w, err := tr.Window(10, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			span := tt.to - tt.from
			if w.BusyNS != tt.busy || w.IdleNS != span-tt.busy || w.Steps != tt.steps || w.Complete != tt.complete ||
				math.Abs(w.Ratio-float64(tt.busy)/float64(span)) > 1e-12 {
				t.Errorf("window %+v; want busy %d steps %d complete %v", w, tt.busy, tt.steps, tt.complete)
			}
		})
	}
	tr, _ := run(t, Config{}, evs)
	if _, err := tr.Window(10, 5, 5); err == nil {
		t.Error("empty window accepted")
	}
	if _, err := tr.Window(11, 0, 5); err != ErrUnknownPID {
		t.Errorf("unknown pid: %v", err)
	}
}
