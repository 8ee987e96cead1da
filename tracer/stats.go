package tracer

import (
	"sync"
	"sync/atomic"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Stats is what the tracer has done so far.
type Stats struct {
	// Events counts the events handed to Run's callback, by event.Type ("cuda", "sock",
	// "proc"); Calls counts the CUDA ones by call.
	Events map[string]uint64
	Calls  map[event.Call]uint64
	// Drops counts the records the kernel could not emit (the ring buffer was full), by
	// reason; DropsTotal sums them.
	Drops      map[string]uint64
	DropsTotal uint64
	// DecodeErrors counts records that did not decode; LastDecodeError is the latest.
	DecodeErrors    uint64
	LastDecodeError string
	// Tracked counts the processes traced; Attached those with CUDA probes attached.
	Tracked, Attached int
	// AttachFailures counts failed attachments of a process's CUDA probes;
	// LastAttachError is the latest.
	AttachFailures  uint64
	LastAttachError string
}

type counters struct {
	cuda, sock, proc atomic.Uint64
	calls            [event.NumCalls]atomic.Uint64
	decodeErrs       atomic.Uint64
	attachFails      atomic.Uint64

	mu            sync.Mutex
	lastDecodeErr string
	lastAttachErr string
}

func (c *counters) count(ev event.Event) {
	switch e := ev.(type) {
	case *event.CUDA:
		c.cuda.Add(1)
		if int(e.Call) < len(c.calls) {
			c.calls[e.Call].Add(1)
		}
	case *event.Sock:
		c.sock.Add(1)
	case *event.Proc:
		c.proc.Add(1)
	}
}

func (c *counters) decodeError(err error) {
	c.decodeErrs.Add(1)
	c.mu.Lock()
	c.lastDecodeErr = err.Error()
	c.mu.Unlock()
}

func (c *counters) attachFailed(err error) {
	c.attachFails.Add(1)
	c.mu.Lock()
	c.lastAttachErr = err.Error()
	c.mu.Unlock()
}

// Stats returns the counts so far.
func (t *Tracer) Stats() (Stats, error) {
	s := Stats{
		Events: map[string]uint64{
			"cuda": t.st.cuda.Load(), "sock": t.st.sock.Load(), "proc": t.st.proc.Load(),
		},
		Calls:          make(map[event.Call]uint64),
		DecodeErrors:   t.st.decodeErrs.Load(),
		AttachFailures: t.st.attachFails.Load(),
	}
	for i := range t.st.calls {
		if n := t.st.calls[i].Load(); n > 0 {
			s.Calls[event.Call(i)] = n
		}
	}
	t.st.mu.Lock()
	s.LastDecodeError, s.LastAttachError = t.st.lastDecodeErr, t.st.lastAttachErr
	t.st.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return s, errClosed
	}
	s.Tracked = len(t.targets)
	for _, tg := range t.targets {
		if tg.cuda != nil {
			s.Attached++
		}
	}
	d, err := t.objs.drops()
	if err != nil {
		return s, err
	}
	s.Drops = d
	for _, n := range d {
		s.DropsTotal += n
	}
	return s, nil
}
