package main

import (
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// pipe runs the tracer into the correlator on one goroutine: events in ring order, and a
// tick that moves stream time on when the server goes quiet. tap, if not nil, sees every
// event first (the raw stream of record). onTick runs on the same goroutine after each
// tick, so it may read the correlator.
func pipe(ctx context.Context, t *tracer.Tracer, c *correlate.Correlator, tap func(event.Event), onTick func()) error {
	ch := make(chan event.Event, 4096)
	errc := make(chan error, 1)
	go func() {
		errc <- t.Run(ctx, func(e event.Event) { ch <- e })
		close(ch)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				return <-errc
			}
			if tap != nil {
				tap(e)
			}
			c.Feed(e)
		case <-tick.C:
			c.Advance(monotonicNS())
			if onTick != nil {
				onTick()
			}
		}
	}
}

func monotonicNS() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}
