package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
)

func init() {
	register(command{name: "events", summary: "print the raw captured events, one JSON object a line", run: runEvents})
}

// captureFlags are the tracer's flags, shared by the commands that capture.
type captureFlags struct {
	pids     []int
	cgroups  []string
	auto     bool
	payload  int
	launches string
	procfs   string
	sysfs    string
	rescan   time.Duration
}

func (c *captureFlags) register(fs interface {
	IntSliceVar(*[]int, string, []int, string)
	StringArrayVar(*[]string, string, []string, string)
	BoolVar(*bool, string, bool, string)
	IntVar(*int, string, int, string)
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.IntSliceVar(&c.pids, "pid", nil, "trace this process and its children (repeatable)")
	fs.StringArrayVar(&c.cgroups, "cgroup", nil, "trace every process in this cgroup v2 path (repeatable)")
	fs.BoolVar(&c.auto, "auto", false, "trace every process that maps libcuda, and its front end (the default without --pid or --cgroup)")
	fs.IntVar(&c.payload, "capture.payload-bytes", tracer.DefaultPayloadBytes, fmt.Sprintf("bytes copied from the head of each socket read or write (0 to %d)", tracer.MaxPayloadBytes))
	fs.StringVar(&c.launches, "capture.launches", "on", "kernel launches recorded: on, off or sample:N")
	fs.StringVar(&c.procfs, "path.procfs", "/proc", "procfs mount point")
	fs.StringVar(&c.sysfs, "path.sysfs", "/sys", "sysfs mount point (where --cgroup paths are checked)")
	fs.DurationVar(&c.rescan, "capture.rescan-interval", tracer.DefaultRescanInterval, "how often processes are rescanned for libcuda")
}

func (c *captureFlags) config(log *slog.Logger) (tracer.Config, error) {
	mode, err := tracer.ParseLaunchMode(c.launches)
	if err != nil {
		return tracer.Config{}, err
	}
	if c.payload < 0 || c.payload > tracer.MaxPayloadBytes {
		return tracer.Config{}, fmt.Errorf("--capture.payload-bytes %d: want 0 to %d", c.payload, tracer.MaxPayloadBytes)
	}
	for _, cg := range c.cgroups {
		if !cgroupExists(c.sysfs, cg) {
			return tracer.Config{}, fmt.Errorf("--cgroup %s: no such cgroup v2 (no directory %s or %s)", cg,
				filepath.Join(c.sysfs, "fs/cgroup", cg), filepath.Join(c.sysfs, "fs/cgroup/unified", cg))
		}
	}
	return tracer.Config{
		PIDs:           c.pids,
		Cgroups:        c.cgroups,
		Auto:           c.auto || len(c.pids) == 0 && len(c.cgroups) == 0,
		PayloadBytes:   c.payload,
		LaunchMode:     mode,
		ProcRoot:       c.procfs,
		RescanInterval: c.rescan,
		Logger:         log,
	}, nil
}

func runEvents(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("events", stderr)
	var cf captureFlags
	cf.register(fs)
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	withPayload := fs.Bool("payload", false, "include the socket payload bytes (request and response content) in the output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := cf.config(log)
	if err != nil {
		fmt.Fprintln(stderr, "inferprobe events:", err)
		return errUsage
	}
	if err := tracer.Preflight(); err != nil {
		return err
	}
	t, err := tracer.New(cfg)
	if err != nil {
		return err
	}
	defer t.Close()

	ctx, stop := runContext(*duration)
	defer stop()
	out := newLiveWriter(stdout)
	defer out.stop()
	var werr error
	err = t.Run(ctx, func(e event.Event) {
		if !*withPayload {
			redact(e)
		}
		if err := out.write(e); err != nil && werr == nil {
			werr = err
			stop() // stdout is gone: nothing more to do
		}
	})
	if ferr := out.stop(); werr == nil {
		werr = ferr
	}
	if st, serr := t.Stats(); serr == nil {
		log.Info("done", "cuda", st.Events["cuda"], "sock", st.Events["sock"], "proc", st.Events["proc"],
			"drops", st.DropsTotal, "tracked", st.Tracked, "attached", st.Attached, "attach_failures", st.AttachFailures)
	}
	if err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("write events: %w", werr)
	}
	return nil
}

// redact drops a socket event's payload: request and response content never leaves the
// host unless asked for.
func redact(e event.Event) {
	if s, ok := e.(*event.Sock); ok {
		s.Data, s.Tail = nil, nil
	}
}

// liveWriter writes events as JSON lines and flushes them every 200 ms, so a reader
// of a pipe sees them as they come without a write per event.
type liveWriter struct {
	mu   sync.Mutex
	w    *event.Writer
	done chan struct{}
	once sync.Once
	err  error
}

func newLiveWriter(w io.Writer) *liveWriter {
	l := &liveWriter{w: event.NewWriter(w), done: make(chan struct{})}
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tick.C:
				l.mu.Lock()
				if err := l.w.Flush(); err != nil && l.err == nil {
					l.err = err
				}
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *liveWriter) write(e event.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.w.Write(e)
}

// stop flushes what is left and ends the flushing goroutine.
func (l *liveWriter) stop() error {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		if err := l.w.Flush(); err != nil && l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
	})
	return l.err
}

// cgroupExists reports whether cg (a cgroup v2 path as /proc/PID/cgroup prints it, or a
// path under /sys/fs/cgroup) is a directory of the cgroup v2 hierarchy: at sysfs/fs/cgroup,
// or at sysfs/fs/cgroup/unified on a host that mounts v1 controllers beside it.
func cgroupExists(sysfs, cg string) bool {
	rel := strings.TrimPrefix(filepath.Clean("/"+cg), "/sys/fs/cgroup")
	for _, root := range []string{"fs/cgroup", "fs/cgroup/unified"} {
		if st, err := os.Stat(filepath.Join(sysfs, root, rel)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}
