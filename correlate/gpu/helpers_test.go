package gpustep

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

const (
	us = uint64(1_000)
	ms = uint64(1_000_000)
	s1 = uint64(1_000_000_000)
)

// ev builds CUDA events of one thread.
type ev struct{ pid, tid uint32 }

func (t ev) hdr(ts uint64) event.Header { return event.Header{TS: ts, PID: t.pid, TID: t.tid} }

func (t ev) kernel(ts uint64, name string) *event.CUDA {
	return &event.CUDA{Header: t.hdr(ts), Call: event.CallLaunchKernel, Start: ts, Kernel: name, Stream: 7}
}

func (t ev) graph(ts uint64) *event.CUDA {
	return &event.CUDA{Header: t.hdr(ts), Call: event.CallGraphLaunch, Start: ts, Handle: 0x9000, Stream: 7}
}

func (t ev) captured(ts uint64, name string) *event.CUDA {
	e := t.kernel(ts, name)
	e.Captured = true
	return e
}

func (t ev) waitIn(ts uint64, c event.Call) *event.CUDA {
	return &event.CUDA{Header: t.hdr(ts), Call: c, Start: ts, Stream: 7}
}

func (t ev) waitOut(start, ts uint64, c event.Call, result int32) *event.CUDA {
	return &event.CUDA{Header: t.hdr(ts), Call: c, Return: true, Start: start, Stream: 7, Result: result}
}

// ret is a return-only record of a call that is not a wait.
func (t ev) ret(start, ts uint64, c event.Call, result int32) *event.CUDA {
	return &event.CUDA{Header: t.hdr(ts), Call: c, Return: true, Start: start, Result: result, Stream: 7}
}

// sync is a cuStreamSynchronize entry and return.
func (t ev) sync(start, end uint64) []*event.CUDA {
	return []*event.CUDA{t.waitIn(start, event.CallStreamSynchronize), t.waitOut(start, end, event.CallStreamSynchronize, 0)}
}

func cat(parts ...any) []*event.CUDA {
	var out []*event.CUDA
	for _, p := range parts {
		switch v := p.(type) {
		case *event.CUDA:
			out = append(out, v)
		case []*event.CUDA:
			out = append(out, v...)
		default:
			panic("cat: unexpected type")
		}
	}
	return out
}

func run(t testing.TB, cfg Config, evs []*event.CUDA) (*Tracker, *Collector) {
	t.Helper()
	c := &Collector{}
	tr, err := New(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		tr.Handle(e)
	}
	return tr, c
}

func gapOf(s Step) int64 {
	if s.HostGapNS == nil {
		return -1
	}
	return int64(*s.HostGapNS)
}
