package tracer

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// collector runs a tracer and keeps every event, in the order Run hands them out.
type collector struct {
	t      *Tracer
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	events []event.Event
}

func startTracer(t testing.TB, cfg Config) *collector {
	t.Helper()
	if cfg.RescanInterval == 0 {
		cfg.RescanInterval = 100 * time.Millisecond
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("%+v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{t: tr, cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- tr.Run(ctx, func(e event.Event) {
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop ends Run (after the records in the ring) and closes the tracer; it returns the
// events.
func (c *collector) stop(t testing.TB) []event.Event {
	t.Helper()
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run did not return 10 s after its context ended")
		}
		c.t.Close()
	}
	return c.snapshot()
}

func (c *collector) snapshot() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.events...)
}

// waitFor polls the events until ok holds or the timeout passes.
func (c *collector) waitFor(t testing.TB, what string, timeout time.Duration, ok func([]event.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok(c.snapshot()) {
		if time.Now().After(deadline) {
			evs := c.snapshot()
			n := map[string]int{}
			for _, e := range evs {
				n[event.Type(e)]++
			}
			t.Fatalf("no %s within %v (events so far: %v)", what, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func procEvent(pid int, op event.ProcOp) func([]event.Event) bool {
	return func(evs []event.Event) bool { return findProc(evs, pid, op) != nil }
}

func findProc(evs []event.Event, pid int, op event.ProcOp) *event.Proc {
	for _, e := range evs {
		if p, ok := e.(*event.Proc); ok && p.PID == uint32(pid) && p.Op == op {
			return p
		}
	}
	return nil
}

// perfEventFDs counts this process's open perf events: each uprobe link holds one.
func perfEventFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "perf_event") {
			n++
		}
	}
	return n
}
