package tracer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// pollInterval is the longest a record waits in the ring before Run reads it.
const pollInterval = 100 * time.Millisecond

// Run reads events until ctx is done (then it returns nil, after the records already in
// the ring) or the ring fails, calling fn for each in the order the kernel emitted them,
// with the tracer's own events (processes found) in between. fn runs on Run's goroutine.
func (t *Tracer) Run(ctx context.Context, fn func(event.Event)) error {
	return t.RunIdle(ctx, fn, nil)
}

// RunIdle is Run that also calls idle, on the same goroutine, each time the ring has been
// drained and at least once a poll interval while it never drains: a consumer that keeps
// state (the correlator) moves its clock on there without a goroutine of its own.
func (t *Tracer) RunIdle(ctx context.Context, fn func(event.Event), idle func()) error {
	stop := context.AfterFunc(ctx, func() { t.reader.Flush() })
	defer stop()
	var rec ringbuf.Record
	next := time.Now().Add(t.cfg.RescanInterval)
	lastIdle := time.Now()
	timer := time.NewTimer(pollInterval)
	timer.Stop()
	defer timer.Stop()
	for {
		t.flushPending(fn)
		// The kernel wakes the reader only when a quarter of the ring waits, so that a
		// probe does not pay for a wakeup per record; and Run never blocks in epoll: it
		// reads what the ring holds, then sleeps on a Go timer until the next poll. A
		// goroutine parked in a timed epoll_wait keeps the Go runtime's monitor thread
		// waking thousands of times a second, which cost more than the agent's own work.
		t.reader.SetDeadline(time.Now())
		err := t.reader.ReadInto(&rec)
		drained := false
		switch {
		case err == nil:
			t.handle(rec.RawSample, fn)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, ringbuf.ErrFlushed):
			drained = true // every record emitted so far has been handed out
			if ctx.Err() != nil {
				t.flushPending(fn)
				return nil
			}
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return nil
		default:
			return fmt.Errorf("read ring buffer: %w", err)
		}
		// Rescan once the ring is drained, so that the processes it finds come after
		// the records already emitted; under a ring that never drains, a scan late by a
		// whole interval runs anyway.
		now := time.Now()
		if !now.Before(next) && (drained || now.Sub(next) > t.cfg.RescanInterval) {
			t.mu.Lock()
			t.rescan()
			t.mu.Unlock()
			next = now.Add(t.cfg.RescanInterval)
		}
		if idle != nil && (drained || now.Sub(lastIdle) >= pollInterval) {
			idle()
			lastIdle = now
		}
		if drained {
			timer.Reset(min(pollInterval, max(next.Sub(now), time.Millisecond)))
			select {
			case <-ctx.Done():
				timer.Stop() // (Go 1.23 timers: nothing stale to drain)
			case <-timer.C:
			}
		}
	}
}

// handle decodes one record, lets the tracer learn from it and passes it on.
func (t *Tracer) handle(raw []byte, fn func(event.Event)) {
	ev, err := Decode(raw)
	if err != nil {
		t.st.decodeError(err)
		return
	}
	switch e := ev.(type) {
	case *event.CUDA:
		t.res.apply(e)
	case *event.Proc:
		t.mu.Lock()
		t.onProc(e)
		t.mu.Unlock()
	}
	t.st.count(ev)
	fn(ev)
}

func (t *Tracer) flushPending(fn func(event.Event)) {
	t.mu.Lock()
	p := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, ev := range p {
		t.st.count(ev)
		fn(ev)
	}
}

// emit queues an event of the tracer's own for Run. Callers hold t.mu.
func (t *Tracer) emit(ev event.Event) {
	t.pending = append(t.pending, ev)
}
