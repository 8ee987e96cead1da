package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/tracer"
)

func init() {
	register(command{name: "top", summary: "live view of every serving unit and GPU, refreshed every second", run: runTop})
}

// terminalWidth returns the columns of w when it is a terminal (ok false otherwise).
func terminalWidth(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, false
	}
	return int(ws.Col), true
}

func runTop(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("top", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: inferprobe top [flags]

One row per serving unit, rates and quantiles over the last --window (or the time seen so
far, when shorter):
  RPS, TOK/S       finished requests and streamed output tokens per second
  TTFT, TPOT       time to first token and per output token, P50 / P99
  WAIT             requests queued: arrived, no token yet (the queue depth)
  RUN              requests streaming tokens (those in flight at the attach included)
  BATCH            requests that got a token per GPU step, over the last second (the streamed ones; record and /metrics give the final sizes)
  gpu wait         the longest blocking wait on the GPU in flight now; stalled: past --correlate.stall-after
  host idle        the share of GPU time spent waiting on the CPU between steps
  procs, probes    the processes inferprobe traces, and the probes attached in them
Press q to quit.

`)
		fs.PrintDefaults()
	}
	var cf captureFlags
	cf.register(fs)
	var kf correlateFlags
	kf.register(fs)
	var gf gpuFlags
	gf.register(fs, time.Second)
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	window := fs.Duration("window", 30*time.Second, "the sliding window of rates and latency quantiles")
	refresh := fs.Duration("refresh", time.Second, "time between two frames")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := cf.config(log)
	if err == nil && (*window <= 0 || *refresh <= 0) {
		err = fmt.Errorf("--window and --refresh must be positive")
	}
	if err != nil {
		fmt.Fprintln(stderr, "inferprobe top:", err)
		return errUsage
	}
	if err := tracer.Preflight(); err != nil {
		return err
	}
	win := export.NewTopWindow(*window)
	corr, err := correlate.New(kf.options(), win)
	if err != nil {
		return err
	}
	t, err := tracer.New(cfg)
	if err != nil {
		return err
	}
	defer t.Close()

	ctx, stop := runContext(*duration)
	defer stop()
	var notes []string
	poller := gf.start(ctx, slog.New(slog.DiscardHandler))
	if poller == nil {
		notes = append(notes, "gpu health off: NVML not found or not usable (see inferprobe doctor)")
	}
	_, tty := terminalWidth(stdout)
	frames := make(chan export.TopView, 1)
	drawn := make(chan error, 1)
	go func() { drawn <- drawTop(stdout, frames, tty, stop) }()
	if tty {
		defer quitOnKey(os.Stdin, stop)()
	}

	var last time.Time
	var lastEvents uint64
	view := func(now time.Time) export.TopView {
		v := export.TopView{Time: now, Window: *window, Notes: notes}
		if !tty {
			notes = nil // a pipe or a log gets each note once; a terminal keeps it on screen
		}
		sn := corr.Now()
		v.Units = win.Units(sn, corr.Snapshot(sn))
		if st, err := t.Stats(); err == nil {
			ev := st.Events["cuda"] + st.Events["sock"] + st.Events["proc"]
			v.Agent = export.TopAgent{Tracked: st.Tracked, Attached: st.Attached, Dropped: st.DropsTotal}
			if !last.IsZero() {
				v.Agent.EventsPerSec = float64(ev-lastEvents) / now.Sub(last).Seconds()
			}
			lastEvents = ev
		}
		if poller != nil {
			v.GPUs = export.TopGPUs(poller.Latest())
		}
		return v
	}
	onTick := func() {
		if targetsGone(cf.procfs, cf.pids) {
			stop() // every --pid target is gone
		}
		now := time.Now()
		if !last.IsZero() && now.Sub(last) < *refresh {
			return
		}
		v := view(now)
		last = now
		select { // a slow terminal skips frames rather than holding the pipe up
		case frames <- v:
		default:
		}
	}
	runErr := pipe(ctx, t, corr, nil, onTick)
	close(frames)
	werr := <-drawn
	if runErr != nil {
		return runErr
	}
	if werr != nil {
		return fmt.Errorf("write the view: %w", werr)
	}
	return nil
}

// drawTop writes each frame: redrawn in place on a terminal, as plain text blocks
// otherwise. It returns at the end of frames; at the first write error it calls stop and
// discards the rest.
func drawTop(w io.Writer, frames <-chan export.TopView, tty bool, stop func()) error {
	if tty {
		if _, err := io.WriteString(w, "\x1b[2J"); err != nil {
			return err
		}
	}
	first := true
	for v := range frames {
		var text string
		if tty {
			width, _ := terminalWidth(w)
			text = export.ANSIFrame(export.RenderTop(v, width))
		} else {
			text = export.RenderTop(v, 0)
			if !first {
				text = "\n" + text
			}
		}
		first = false
		if _, err := io.WriteString(w, text); err != nil {
			stop()
			for range frames {
			}
			return err
		}
	}
	return nil
}

// quitOnKey calls stop when q is pressed on in, a terminal: it is put in a mode that
// delivers keys at once and does not echo them. The function it returns restores the
// terminal. Where in is not a terminal it does nothing.
func quitOnKey(in *os.File, stop func()) (restore func()) {
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	raw := *old
	raw.Lflag &^= unix.ICANON | unix.ECHO
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return func() {}
	}
	go func() {
		b := make([]byte, 16)
		for {
			n, err := in.Read(b)
			if err != nil {
				return
			}
			if bytes.ContainsAny(b[:n], "qQ") {
				stop()
				return
			}
		}
	}()
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}
