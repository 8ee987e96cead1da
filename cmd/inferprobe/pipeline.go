package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/correlate/wire"
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

// targetsGone reports whether every process of pids has exited (a zombie, exited but not
// yet reaped, counts as gone), as procfs shows them.
func targetsGone(procfs string, pids []int) bool {
	if len(pids) == 0 {
		return false
	}
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join(procfs, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name, which may hold spaces.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			continue
		}
		return false
	}
	return true
}

// exitsReport prints the exits of the units' processes, with wall-clock times (now is
// stream time at wall).
func exitsReport(w io.Writer, exits []correlate.Exit, now uint64, wall time.Time) {
	if len(exits) == 0 {
		return
	}
	fmt.Fprintf(w, "process exits (%d):\n", len(exits))
	for _, e := range exits {
		at := wall.Add(-time.Duration(now - min(e.TS, now)))
		fmt.Fprintf(w, "  %s  pid %d (%s) of %s %s\n", at.Format("15:04:05.000"), e.PID, e.Comm, e.Unit, e.How())
	}
}

// connsReport prints the connections that were not parsed as HTTP: by what they carried,
// and those still waiting for a message boundary at the end (per unit).
func connsReport(w io.Writer, ws wire.Stats, snaps []correlate.UnitSnapshot) {
	var parts []string
	for p := wire.ProtoTLS; p <= wire.ProtoBinary; p++ {
		if n := ws.Ignored[p]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", p, n))
		}
	}
	for _, s := range snaps {
		if n := s.Conns[wire.ConnUnsynced]; n > 0 {
			parts = append(parts, fmt.Sprintf("unsynced=%d (%s)", n, s.Unit))
		}
	}
	if ws.Joined == 0 && len(parts) == 0 {
		return
	}
	unparsed := "none"
	if len(parts) > 0 {
		unparsed = strings.Join(parts, " ")
	}
	fmt.Fprintf(w, "connections: %d joined mid-stream (%d partial requests); not parsed: %s\n", ws.Joined, ws.Partial, unparsed)
}
