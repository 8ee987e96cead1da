package gpu

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
	"github.com/inferprobe/inferprobe/gpu/gputest"
)

// fakeSource returns scripted errors and counts samples.
type fakeSource struct {
	n    atomic.Int64
	mu   sync.Mutex
	errs []error // error of sample k (then nil)
}

func (f *fakeSource) Sample() ([]Device, error) {
	k := int(f.n.Add(1)) - 1
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if k < len(f.errs) {
		err = f.errs[k]
	}
	return []Device{{Index: 0, UUID: "GPU-x", Utilization: ptr(float64(k) / 10)}}, err
}

func (f *fakeSource) XIDs() map[XIDKey]uint64 { return map[XIDKey]uint64{{0, 79}: uint64(f.n.Load())} }

func TestPollerOptions(t *testing.T) {
	if _, err := NewPoller(&fakeSource{}, 0, nil); err == nil || err.Error() != "gpu poller: interval must be positive, got 0s" {
		t.Errorf("zero interval: %v", err)
	}
	if _, err := NewPoller(nil, time.Second, nil); err == nil {
		t.Error("nil source accepted")
	}
}

// Failures count samples with an error; each distinct error is logged once.
func TestPollerErrors(t *testing.T) {
	e1, e2 := errors.New("nvml power gpu 1: ERROR_UNKNOWN"), errors.New("nvml power gpu 2: ERROR_UNKNOWN")
	src := &fakeSource{errs: []error{nil, e1, e1, e1, e2, nil, nil}}
	var buf bytes.Buffer
	p, err := NewPoller(src, time.Second, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Latest().Time.IsZero() {
		t.Error("a snapshot before the first sample")
	}
	var last Snapshot
	for range 7 {
		last = p.Poll()
	}
	if last.Failures != 4 || last.Err != nil || last.XIDs[XIDKey{0, 79}] != 7 {
		t.Errorf("failures %d err %v xids %v; want 4, nil, 7", last.Failures, last.Err, last.XIDs)
	}
	if *p.Latest().Devices[0].Utilization != 0.6 {
		t.Errorf("latest is not the last sample: %v", *p.Latest().Devices[0].Utilization)
	}
	log := buf.String()
	if n := strings.Count(log, "gpu 1: ERROR_UNKNOWN"); n != 1 {
		t.Errorf("error 1 logged %d times:\n%s", n, log)
	}
	if n := strings.Count(log, "gpu 2: ERROR_UNKNOWN"); n != 1 {
		t.Errorf("error 2 logged %d times:\n%s", n, log)
	}
	if n := strings.Count(log, "gpu sample errors cleared"); n != 1 {
		t.Errorf("clearing logged %d times:\n%s", n, log)
	}
}

// Run samples at once and then at the interval, in the background, over the H100 server;
// reading Latest never samples.
func TestPollerRunH100(t *testing.T) {
	srv := gputest.New()
	s := newSampler(t, srv)
	p, err := NewPoller(s, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for p.Latest().Time.IsZero() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	srv.Set(4, func(f *gputest.Figures) { f.TemperatureC = 88 })
	if err := srv.InjectXID(2, 63); err != nil { // while the poller samples
		t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		if d, ok := p.Latest().Device(4); ok && *d.TemperatureCelsius == 88 && p.Latest().XIDs[XIDKey{2, 63}] == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	snap := p.Latest()
	if len(snap.Devices) != 8 || snap.Err != nil || snap.Failures != 0 {
		t.Fatalf("snapshot: %d devices, err %v, failures %d", len(snap.Devices), snap.Err, snap.Failures)
	}
	if d, _ := snap.Device(4); *d.TemperatureCelsius != 88 {
		t.Errorf("the poller did not pick up the change: %v C", *d.TemperatureCelsius)
	}
	if snap.XIDs[XIDKey{2, 63}] != 1 {
		t.Errorf("xids in the snapshot %v, want gpu 2 xid 63 once", snap.XIDs)
	}
	calls := len(srv.Devices[0].(*server.Device).GetPowerUsageCalls())
	for range 100 {
		p.Latest()
	}
	if now := len(srv.Devices[0].(*server.Device).GetPowerUsageCalls()); now != calls {
		t.Errorf("Latest called NVML: %d power reads, then %d", calls, now)
	}
	if _, ok := snap.Device(9); ok {
		t.Error("device 9 found")
	}
}
