package frontend

import (
	"sync"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// Core is the engine core as the front end sees it: requests in, step outputs and
// rejections out. testbed/engine's in-process core and the Remote of --procs 2 both
// satisfy it. Out is closed when the core stops.
type Core interface {
	Send(proto.Msg)
	Out() <-chan proto.Msg
}

// event is one core message about one request.
type event struct {
	op     proto.Op // OpStep (tok and step set), OpReject or OpFail
	tok    proto.Token
	step   uint64
	status int
	err    string
}

// mailbox collects a request's events without ever blocking the dispatcher.
type mailbox struct {
	mu     sync.Mutex
	evs    []event
	notify chan struct{}
}

func (m *mailbox) put(e event) {
	m.mu.Lock()
	m.evs = append(m.evs, e)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// take returns the queued events, reusing buf.
func (m *mailbox) take(buf []event) []event {
	m.mu.Lock()
	buf = append(buf[:0], m.evs...)
	m.evs = m.evs[:0]
	m.mu.Unlock()
	return buf
}

// dispatcher routes the core's output to the requests in flight.
type dispatcher struct {
	mu    sync.Mutex
	boxes map[string]*mailbox
	done  chan struct{} // closed when the core's output ends
}

func newDispatcher() *dispatcher {
	return &dispatcher{boxes: map[string]*mailbox{}, done: make(chan struct{})}
}

// register opens a request's mailbox; false if the id is already in flight.
func (d *dispatcher) register(id string) (*mailbox, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.boxes[id]; dup {
		return nil, false
	}
	m := &mailbox{notify: make(chan struct{}, 1)}
	d.boxes[id] = m
	return m, true
}

func (d *dispatcher) unregister(id string) {
	d.mu.Lock()
	delete(d.boxes, id)
	d.mu.Unlock()
}

// inFlight is the number of requests with an open mailbox.
func (d *dispatcher) inFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.boxes)
}

// run delivers out's messages until it closes. Tokens of requests no longer in flight
// (aborted ones the core had already stepped) are dropped.
func (d *dispatcher) run(out <-chan proto.Msg) {
	defer close(d.done)
	for m := range out {
		switch m.Op {
		case proto.OpStep:
			if m.Step == nil {
				continue
			}
			d.mu.Lock()
			for _, t := range m.Step.Tokens {
				if b := d.boxes[t.ID]; b != nil {
					b.put(event{op: proto.OpStep, tok: t, step: m.Step.Index})
				}
			}
			d.mu.Unlock()
		case proto.OpReject, proto.OpFail:
			d.mu.Lock()
			b := d.boxes[m.ID]
			d.mu.Unlock()
			if b != nil {
				b.put(event{op: m.Op, status: m.Status, err: m.Error})
			}
		}
	}
}
