package gpu

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Options configure a Sampler.
type Options struct {
	// Library is the NVML to read; nil means the host's libnvidia-ml (tests pass
	// go-nvml's mock, see gpu/gputest).
	Library Library
	// LibraryPath is the libnvidia-ml to load when Library is nil: a file name searched
	// the usual way or a path (flag --path.nvml); "" means libnvidia-ml.so.1.
	LibraryPath string
	// XIDWaitTimeout bounds one wait on the XID event set, and so how long Close may
	// wait for the XID watcher to stop. Default 500ms.
	XIDWaitTimeout time.Duration
	// OnXID, when set, is called from the XID watcher goroutine for every XID critical
	// error, after it is counted. It must not block.
	OnXID func(XIDEvent)
	// Logger receives the few messages the sampler logs on its own (XID watcher setup and
	// wait errors, each distinct one once). Default: discard.
	Logger *slog.Logger
}

// Sampler reads GPU health from NVML. Sample may be called from one goroutine at a time
// or several (calls are serialised); XIDs and Close from any.
type Sampler struct {
	lib          Library
	log          *slog.Logger
	eventReasons bool // the driver has nvmlDeviceGetCurrentClocksEventReasons

	mu     sync.Mutex // guards devs' caches and closed
	closed bool
	devs   []*dev
	xid    *xidWatcher // nil when XID events are not available
}

// dev is the sampler's state for one GPU.
type dev struct {
	index       int
	handle      nvml.Device  // nil until a handle was obtained
	h           deviceReader // the same handle, typed by what is read
	uuid, name  string
	unsupported field // values NVML said it does not support: not asked again
}

// field names one value read from a device, for the not-supported cache.
type field uint32

const (
	fUUID field = 1 << iota
	fName
	fUtilization
	fMemory
	fTemperature
	fPower
	fPowerLimit
	fSMClock
	fMemoryClock
	fThrottle
	fECCVolatileCorrected
	fECCVolatileUncorrected
	fECCAggregateCorrected
	fECCAggregateUncorrected
	fProcesses
)

var errClosed = errors.New("gpu sampler closed")

// New initialises NVML, enumerates the GPUs and starts watching XID events. Without
// NVML on the host it returns ErrNoNVML (check with errors.Is). A GPU whose handle or
// identity cannot be read now is retried by every Sample, which reports the error.
func New(o Options) (*Sampler, error) {
	lib, err := initLibrary(o.Library, o.LibraryPath)
	if err != nil {
		return nil, err
	}
	n, ret := lib.DeviceGetCount()
	if _, err := check(ret, "device count"); err != nil {
		lib.Shutdown()
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sampler{
		lib:          lib,
		log:          log,
		eventReasons: hasSymbol(lib, "nvmlDeviceGetCurrentClocksEventReasons"),
	}
	for i := range n {
		d := &dev{index: i}
		s.devs = append(s.devs, d)
		_ = s.identify(d) // retried and reported by Sample
	}
	w, err := startXID(lib, s.devs, o, log)
	if err != nil {
		log.Warn("gpu xid events partly off", "err", err)
	}
	s.xid = w
	return s, nil
}

// Count returns the number of GPUs NVML enumerated.
func (s *Sampler) Count() int { return len(s.devs) }

// identify gets the device handle, UUID and name where still missing.
func (s *Sampler) identify(d *dev) error {
	if d.handle == nil {
		h, ret := s.lib.DeviceGetHandleByIndex(d.index)
		if _, err := check(ret, "device handle gpu "+strconv.Itoa(d.index)); err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("nvml device handle gpu %d: no device", d.index)
		}
		d.handle, d.h = h, h
	}
	var errs []error
	if d.uuid == "" {
		v, ok, err := read(d, fUUID, "uuid", d.h.GetUUID)
		if ok {
			d.uuid = v
		}
		errs = append(errs, err)
	}
	if d.name == "" {
		v, ok, err := read(d, fName, "name", d.h.GetName)
		if ok {
			d.name = v
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// read calls one NVML getter of a device unless it said before that it does not support
// it, and classifies the result with check; what names the value in errors.
func read[T any](d *dev, f field, what string, call func() (T, nvml.Return)) (T, bool, error) {
	var zero T
	if d.unsupported&f != 0 {
		return zero, false, nil
	}
	v, ret := call()
	ok, err := check(ret, what+" gpu "+strconv.Itoa(d.index))
	if !ok {
		if err == nil {
			d.unsupported |= f
		}
		return zero, false, err
	}
	return v, true, nil
}

// Sample reads every GPU once. Each Device holds every value that could be read, even
// when the error (all failures joined, each with its GPU and value) is not nil.
func (s *Sampler) Sample() ([]Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	out := make([]Device, 0, len(s.devs))
	var errs []error
	for _, d := range s.devs {
		v, err := s.sampleDevice(d)
		out = append(out, v)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// XIDs returns a copy of the XID critical error counts since New, per GPU and XID.
func (s *Sampler) XIDs() map[XIDKey]uint64 {
	if s.xid == nil {
		return map[XIDKey]uint64{}
	}
	return s.xid.counts()
}

// XIDWatched returns the indices of the GPUs whose XID events are watched.
func (s *Sampler) XIDWatched() []int {
	if s.xid == nil {
		return nil
	}
	return slices.Clone(s.xid.registered)
}

// Close stops the XID watcher (within XIDWaitTimeout) and shuts NVML down. Sample fails
// after Close; a second Close does nothing.
func (s *Sampler) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.xid != nil {
		errs = append(errs, s.xid.stop())
	}
	_, err := check(s.lib.Shutdown(), "shutdown")
	return errors.Join(append(errs, err)...)
}

func ptr[T any](v T) *T { return &v }

// percent converts an NVML percentage to a ratio 0..1.
func percent(v uint32) *float64 { return ptr(float64(v) / 100) }

// milli converts NVML milliwatts to watts.
func milli(v uint32) *float64 { return ptr(float64(v) / 1000) }

// mega converts NVML megahertz to hertz.
func mega(v uint32) *float64 { return ptr(float64(v) * 1e6) }

// processes converts NVML's process list, sorted by pid. NVML_VALUE_NOT_AVAILABLE
// memory becomes nil.
func processes(in []nvml.ProcessInfo) []Process {
	out := make([]Process, 0, len(in))
	for _, p := range in {
		q := Process{PID: p.Pid}
		if p.UsedGpuMemory != math.MaxUint64 {
			q.UsedBytes = ptr(p.UsedGpuMemory)
		}
		out = append(out, q)
	}
	slices.SortFunc(out, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	return out
}
