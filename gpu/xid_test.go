package gpu

import (
	"maps"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/inferprobe/inferprobe/gpu/gputest"
)

// waitXIDs waits until n XID events were handed to OnXID.
func waitXIDs(t *testing.T, ch <-chan XIDEvent, n int) []XIDEvent {
	t.Helper()
	var got []XIDEvent
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case e := <-ch:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("%d XID events after 5s, want %d", len(got), n)
		}
	}
	return got
}

// XID events are counted per GPU and XID as they arrive, with the GPU resolved from the
// event's device handle.
func TestXIDCounting(t *testing.T) {
	srv := gputest.New()
	ch := make(chan XIDEvent, 16)
	before := monotonicNow()
	s, err := New(Options{Library: srv, XIDWaitTimeout: 20 * time.Millisecond, OnXID: func(e XIDEvent) { ch <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range gputest.GPUs {
		if srv.Registered(i) != nvml.EventTypeXidCriticalError {
			t.Errorf("gpu %d registered %#x, want XID critical errors", i, srv.Registered(i))
		}
	}
	if w := s.XIDWatched(); len(w) != 8 || w[0] != 0 || w[7] != 7 {
		t.Errorf("watched %v", w)
	}
	if len(s.XIDs()) != 0 {
		t.Fatalf("XIDs before any event: %v", s.XIDs())
	}
	for _, x := range []struct {
		gpu int
		xid uint64
	}{{3, 79}, {3, 79}, {3, 48}, {0, 13}, {3, 79}, {7, 94}} {
		if err := srv.InjectXID(x.gpu, x.xid); err != nil {
			t.Fatal(err)
		}
	}
	// An event of another type on the set is not an XID.
	srv.InjectEvent(nvml.EventData{Device: srv.Devices[1], EventType: nvml.EventTypeSingleBitEccError, EventData: 1})
	// An XID without a device counts under GPU -1.
	srv.InjectEvent(nvml.EventData{EventType: nvml.EventTypeXidCriticalError, EventData: 31})
	evs := waitXIDs(t, ch, 7)
	want := map[XIDKey]uint64{{3, 79}: 3, {3, 48}: 1, {0, 13}: 1, {7, 94}: 1, {-1, 31}: 1}
	if got := s.XIDs(); !maps.Equal(got, want) {
		t.Errorf("XIDs %v, want %v", got, want)
	}
	if e := evs[0]; e.GPU != 3 || e.UUID != gputest.UUID(3) || e.XID != 79 || e.TS < before || e.TS > monotonicNow() {
		t.Errorf("first event %+v", e)
	}
	if e := evs[6]; e.GPU != -1 || e.UUID != "" || e.XID != 31 {
		t.Errorf("deviceless event %+v", e)
	}
	// The copy is the caller's.
	got := s.XIDs()
	got[XIDKey{3, 79}] = 100
	if s.XIDs()[XIDKey{3, 79}] != 3 {
		t.Error("XIDs returned the live map")
	}
}

// A GPU that cannot register is left out; the others are watched.
func TestXIDRegistrationPartial(t *testing.T) {
	srv := gputest.New()
	srv.Set(2, func(f *gputest.Figures) { f.Fail = map[string]nvml.Return{"RegisterEvents": nvml.ERROR_NOT_SUPPORTED} })
	srv.Set(5, func(f *gputest.Figures) { f.Fail = map[string]nvml.Return{"RegisterEvents": nvml.ERROR_UNKNOWN} })
	s := newSampler(t, srv)
	w := s.XIDWatched()
	if len(w) != 6 || w[2] != 3 || w[4] != 6 {
		t.Errorf("watched %v, want all but 2 and 5", w)
	}
	if err := srv.InjectXID(2, 79); err == nil {
		t.Error("gpu 2 registered")
	}
}

// Without event sets there is no watcher and no XID counts, and no error.
func TestXIDEventSetsNotSupported(t *testing.T) {
	srv := gputest.New()
	srv.FailServer("EventSetCreate", nvml.ERROR_NOT_SUPPORTED)
	s := newSampler(t, srv)
	if s.XIDWatched() != nil || len(s.XIDs()) != 0 {
		t.Errorf("watched %v, xids %v", s.XIDWatched(), s.XIDs())
	}
	if _, err := s.Sample(); err != nil {
		t.Errorf("Sample: %v", err)
	}
	if err := s.Close(); err != nil || srv.EventSetsFreed() != 0 {
		t.Errorf("Close %v, freed %d", err, srv.EventSetsFreed())
	}
}

// Close stops the watcher within about one wait timeout.
func TestXIDWatcherStops(t *testing.T) {
	srv := gputest.New()
	s, err := New(Options{Library: srv, XIDWaitTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Close took %v with a 50ms wait timeout", d)
	}
	if srv.EventSetsFreed() != 1 {
		t.Errorf("event set freed %d times", srv.EventSetsFreed())
	}
}
