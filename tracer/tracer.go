package tracer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/inferprobe/inferprobe/tracer/event"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// Defaults of Config's zero fields.
const (
	DefaultPayloadBytes   = 512
	DefaultRescanInterval = time.Second
	DefaultRingBytes      = 16 << 20
	// MaxPayloadBytes is the most payload a socket record carries at its head
	// (SOCK_PAYLOAD_MAX, bpf/sock.h).
	MaxPayloadBytes = sockPayloadMax
)

// Config says what to trace.
type Config struct {
	// PIDs are processes to trace, whether or not they map libcuda; their children are
	// traced from their fork on.
	PIDs []int
	// Cgroups are cgroup v2 paths (as /proc/PID/cgroup prints them, or under
	// /sys/fs/cgroup): every process in one of them or below is traced.
	Cgroups []string
	// Auto traces every process that maps libcuda, and with each the front end that
	// serves it: in a container, every process of the container; outside, its ancestors
	// that listen on a TCP port.
	Auto bool
	// PayloadBytes is how many bytes of each socket read or write are copied (0: none,
	// at most MaxPayloadBytes). Set it to DefaultPayloadBytes for the usual.
	PayloadBytes int
	// LaunchMode picks the kernel launches recorded.
	LaunchMode LaunchMode
	// ProcRoot is where procfs is mounted ("" means /proc).
	ProcRoot string
	// RescanInterval is how often processes are checked for a newly mapped libcuda and,
	// with Auto or Cgroups, new processes are looked for (0: DefaultRescanInterval).
	RescanInterval time.Duration
	// RingBytes is the ring buffer's size, a power of two (0: DefaultRingBytes).
	RingBytes int
	// Logger receives what the tracer does on its own (mounting tracefs, attach
	// failures); nil discards.
	Logger *slog.Logger

	// perfUprobes forces one perf-event uprobe per entry point (tests of the fallback
	// for kernels without usable uprobe_multi links).
	perfUprobes bool
}

// Tracer captures the events of the traced processes. Run reads them; the other methods
// may be called from any goroutine.
type Tracer struct {
	cfg    Config
	fs     procfs.FS
	log    *slog.Logger
	objs   *objects
	static []link.Link
	reader *ringbuf.Reader
	self   uint32
	res    *resolver // used by Run's goroutine only

	mu          sync.Mutex
	targets     map[uint32]*target
	libs        map[libKey][]attachPoint
	mode        LaunchMode
	pending     []event.Event
	cgroups     []string        // Config.Cgroups, normalized
	autoCgroups map[string]bool // containers of libcuda processes found in auto mode
	closed      bool
	st          counters
	// detaching counts the link sets being closed in the background: detaching uprobes
	// waits for RCU grace periods, which the ring reader must not.
	detaching sync.WaitGroup
}

// New loads the probes, attaches the lifecycle and socket tracepoints, and starts
// tracing the configured processes. Run reads the events; Close undoes everything.
func New(cfg Config) (*Tracer, error) {
	if cfg.PayloadBytes < 0 || cfg.PayloadBytes > MaxPayloadBytes {
		return nil, fmt.Errorf("payload bytes %d: want 0 to %d", cfg.PayloadBytes, MaxPayloadBytes)
	}
	if cfg.RescanInterval <= 0 {
		cfg.RescanInterval = DefaultRescanInterval
	}
	if cfg.RingBytes == 0 {
		cfg.RingBytes = DefaultRingBytes
	}
	if cfg.RingBytes < os.Getpagesize() || cfg.RingBytes&(cfg.RingBytes-1) != 0 || cfg.RingBytes > 1<<30 {
		return nil, fmt.Errorf("ring bytes %d: want a power of two from a page to 1 GiB", cfg.RingBytes)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	t := &Tracer{
		cfg: cfg, fs: procfs.NewFS(cfg.ProcRoot), log: log, self: uint32(os.Getpid()),
		res: newResolver(), targets: make(map[uint32]*target), libs: make(map[libKey][]attachPoint),
		mode: cfg.LaunchMode, autoCgroups: make(map[string]bool),
	}
	for _, cg := range cfg.Cgroups {
		t.cgroups = append(t.cgroups, normalizeCgroup(cg))
	}
	mounted, err := ensureTracefs()
	if err != nil {
		return nil, err
	}
	if mounted {
		log.Info("mounted tracefs", "path", tracefsDir)
	}
	t.objs, err = loadObjects(loadOptions{
		ringBytes: uint32(cfg.RingBytes), payloadBytes: uint32(cfg.PayloadBytes), perfUprobes: cfg.perfUprobes,
	})
	if err != nil {
		return nil, err
	}
	if err := t.objs.setLaunchSample(t.mode.sample()); err != nil {
		t.objs.close()
		return nil, err
	}
	if t.static, err = t.objs.attachStatic(); err != nil {
		t.objs.close()
		return nil, err
	}
	if t.reader, err = ringbuf.NewReader(t.objs.proc.Rb); err != nil {
		t.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, pid := range cfg.PIDs {
		if err := t.trackTree(uint32(pid)); err != nil {
			t.closeLocked()
			return nil, err
		}
	}
	t.discover()
	return t, nil
}

// Track starts tracing pid (and its future children), as Config.PIDs does.
func (t *Tracer) Track(pid int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	if err := t.trackTree(uint32(pid)); err != nil {
		return err
	}
	t.reader.Flush() // wake Run to hand out the found event
	return nil
}

// SetLaunchMode changes which kernel launches are recorded, at once.
func (t *Tracer) SetLaunchMode(m LaunchMode) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	if err := t.objs.setLaunchSample(m.sample()); err != nil {
		return err
	}
	var errs []error
	for pid, tg := range t.targets {
		if tg.cuda == nil {
			continue
		}
		if m.Off {
			t.closeInBackground(tg.cuda.launch)
			tg.cuda.launch = nil
		} else if err := tg.cuda.attachLaunches(t.objs, pid); err != nil {
			t.st.attachFailed(err)
			errs = append(errs, err)
		}
	}
	t.mode = m
	return errors.Join(errs...)
}

var errClosed = errors.New("tracer closed")

// detach closes a target's CUDA probes in the background. Callers hold t.mu.
func (t *Tracer) detach(tg *target) {
	if c := tg.cuda; c != nil {
		t.closeInBackground(append(c.launch, c.links...))
		c.launch, c.links = nil, nil
	}
	tg.cuda = nil
}

// closeInBackground closes links without making the caller wait: detaching a uprobe
// waits for an RCU grace period. Close waits for them.
func (t *Tracer) closeInBackground(links []link.Link) {
	if len(links) == 0 {
		return
	}
	t.detaching.Add(1)
	go func() {
		defer t.detaching.Done()
		closeLinks(links)
	}()
}

// Close detaches every probe and frees every map: nothing of the tracer stays in the
// kernel. Run returns once Close is called.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeLocked()
	return nil
}

func (t *Tracer) closeLocked() {
	if t.closed {
		return
	}
	t.closed = true
	for pid, tg := range t.targets {
		t.detach(tg)
		delete(t.targets, pid)
	}
	t.detaching.Wait()
	closeLinks(t.static)
	t.static = nil
	if t.reader != nil {
		t.reader.Close()
	}
	t.objs.close()
}
