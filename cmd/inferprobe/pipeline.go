package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// pipe runs the tracer into the correlator on the tracer's own goroutine: events in ring
// order, and at each idle point (the ring drained, or a poll interval passed) stream time
// moves on to now, so a quiet server's requests still settle. tap, if not nil, sees every
// event first (the raw stream of record). onTick runs after each idle point, on the same
// goroutine, so it may read the correlator. No channel sits between the two: a hand-off
// per event cost more than the correlation itself.
func pipe(ctx context.Context, t *tracer.Tracer, c *correlate.Correlator, tap func(event.Event), onTick func()) error {
	return t.RunIdle(ctx, func(e event.Event) {
		if tap != nil {
			tap(e)
		}
		c.Feed(e)
	}, func() {
		c.Advance(monotonicNS())
		if onTick != nil {
			onTick()
		}
	})
}

// runContext is a command's lifetime: until SIGINT or SIGTERM, or d when d > 0. stop
// releases it (and stops the signal handling).
func runContext(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if d <= 0 {
		return ctx, stopSignals
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, func() { cancel(); stopSignals() }
}

func monotonicNS() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}
