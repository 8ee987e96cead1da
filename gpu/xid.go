package gpu

import (
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"golang.org/x/sys/unix"
)

// xidWatcher waits on an NVML event set for XID critical errors and counts them per GPU
// and XID as they arrive.
type xidWatcher struct {
	set        nvml.EventSet
	devs       []watched // the GPUs registered, read-only once running
	registered []int
	timeout    time.Duration
	onXID      func(XIDEvent)
	log        *slog.Logger

	stopc chan struct{}
	done  chan struct{}

	mu sync.Mutex
	n  map[XIDKey]uint64
}

// watched is a GPU registered for XID events, as identified when the watcher started
// (the sampler's own dev records keep changing under its lock).
type watched struct {
	index  int
	handle nvml.Device
	uuid   string
}

// startXID creates the event set, registers every identified GPU for
// nvmlEventTypeXidCriticalError and starts the watcher. It returns nil (and no error)
// when NVML has no event sets or no GPU supports XID events; the error lists GPUs that
// could not be registered, while the others are still watched.
func startXID(lib Library, devs []*dev, o Options, log *slog.Logger) (*xidWatcher, error) {
	set, ret := lib.EventSetCreate()
	ok, err := check(ret, "event set create")
	if !ok {
		return nil, err
	}
	w := &xidWatcher{
		set:     set,
		timeout: o.XIDWaitTimeout,
		onXID:   o.OnXID,
		log:     log,
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
		n:       map[XIDKey]uint64{},
	}
	if w.timeout <= 0 {
		w.timeout = 500 * time.Millisecond
	}
	var errs []error
	for _, d := range devs {
		if d.handle == nil {
			continue
		}
		ok, err := check(d.h.RegisterEvents(nvml.EventTypeXidCriticalError, set), "register xid events gpu "+strconv.Itoa(d.index))
		errs = append(errs, err)
		if ok {
			w.devs = append(w.devs, watched{index: d.index, handle: d.handle, uuid: d.uuid})
			w.registered = append(w.registered, d.index)
		}
	}
	if len(w.devs) == 0 {
		_, ferr := check(set.Free(), "event set free")
		return nil, errors.Join(append(errs, ferr)...)
	}
	go w.run()
	return w, errors.Join(errs...)
}

// run waits for events until stop. A wait error other than the timeout is logged once
// per distinct error and retried after a pause, so a failing driver never spins.
func (w *xidWatcher) run() {
	defer close(w.done)
	ms := uint32(w.timeout.Milliseconds())
	var last string
	for {
		select {
		case <-w.stopc:
			return
		default:
		}
		data, ret := w.set.Wait(ms)
		ok, err := check(ret, "xid event wait")
		switch {
		case errors.Is(err, nvml.ERROR_TIMEOUT):
			continue
		case err != nil:
			if err.Error() != last {
				last = err.Error()
				w.log.Warn("gpu xid events", "err", err)
			}
			select {
			case <-w.stopc:
				return
			case <-time.After(w.timeout):
			}
			continue
		case !ok:
			w.log.Warn("gpu xid events off: event wait not supported")
			return
		}
		if data.EventType&nvml.EventTypeXidCriticalError != 0 {
			w.record(data)
		}
	}
}

// record counts one XID event and hands it to OnXID.
func (w *xidWatcher) record(data nvml.EventData) {
	ev := XIDEvent{GPU: -1, XID: data.EventData, TS: monotonicNow()}
	for _, d := range w.devs {
		if data.Device != nil && d.handle == data.Device {
			ev.GPU, ev.UUID = d.index, d.uuid
			break
		}
	}
	w.mu.Lock()
	w.n[XIDKey{GPU: ev.GPU, XID: ev.XID}]++
	w.mu.Unlock()
	if w.onXID != nil {
		w.onXID(ev)
	}
}

// counts returns a copy of the counters.
func (w *xidWatcher) counts() map[XIDKey]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.n)
}

// stop ends the watcher (it notices within one wait timeout) and frees the event set.
func (w *xidWatcher) stop() error {
	close(w.stopc)
	<-w.done
	_, err := check(w.set.Free(), "event set free")
	return err
}

// monotonicNow is CLOCK_MONOTONIC in nanoseconds, the clock of every event timestamp.
func monotonicNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}
