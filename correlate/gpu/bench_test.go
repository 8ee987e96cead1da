package gpustep

import (
	"fmt"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

type nopSink struct{ steps int }

func (s *nopSink) Step(Step)   { s.steps++ }
func (s *nopSink) Error(Error) {}
func (s *nopSink) Stall(Stall) {}

// engineStream is one engine thread's steps as a vLLM-like server makes them: every
// ninth step an eager prefill of `prefill` kernel launches over 40 kernel names, the
// others one graph launch; each closes with an async copy, an event record and an
// event sync.
func engineStream(steps, prefill int) []*event.CUDA {
	a := ev{100, 100}
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("void at::native::vectorized_elementwise_kernel<4, op_%d>(int, float*)", i)
	}
	var evs []*event.CUDA
	ts := uint64(1)
	for s := 0; s < steps; s++ {
		if s%9 == 0 {
			for k := 0; k < prefill; k++ {
				e := a.kernel(ts, names[k%len(names)])
				e.Handle = 0x7f0000 + uint64(k%len(names))*0x40
				evs = append(evs, e)
				ts += 3 * us
			}
		} else {
			evs = append(evs, a.graph(ts))
			ts += 5 * us
		}
		evs = append(evs, a.ret(ts, ts+2*us, event.CallMemcpyDtoHAsync, 0), a.ret(ts+3*us, ts+4*us, event.CallEventRecord, 0),
			a.waitIn(ts+5*us, event.CallEventSynchronize), a.waitOut(ts+5*us, ts+8*ms, event.CallEventSynchronize, 0))
		ts += 9 * ms
	}
	return evs
}

// baseline is the least any consumer of the stream does per event: find its thread and
// switch on the call.
func baseline(evs []*event.CUDA, m map[uint64]*[8]uint64) uint64 {
	var n uint64
	for _, e := range evs {
		c := m[threadKey(e.PID, e.TID)]
		if c == nil {
			c = new([8]uint64)
			m[threadKey(e.PID, e.TID)] = c
		}
		switch {
		case e.Call.IsLaunch():
			c[0]++
		case e.Call.IsWait():
			c[1] += e.TS - e.Start
		default:
			c[2]++
		}
		n += c[0]
	}
	return n
}

// BenchmarkStepBuilder feeds one engine thread's stream through a Tracker. Each
// iteration runs the baseline over the same events right before, so the ratio holds on
// a loaded machine; events/s and ns/event are the Tracker's alone.
func BenchmarkStepBuilder(b *testing.B) {
	for _, bc := range []struct {
		name    string
		prefill int
	}{{"mixed", 400}, {"decode_heavy", 40}} {
		b.Run(bc.name, func(b *testing.B) {
			evs := engineStream(900, bc.prefill)
			m := map[uint64]*[8]uint64{}
			sink := &nopSink{}
			tr, err := New(Config{}, sink)
			if err != nil {
				b.Fatal(err)
			}
			var baseNS, trackNS int64
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				baseline(evs, m)
				t1 := time.Now()
				for _, e := range evs {
					tr.Handle(e)
				}
				trackNS += time.Since(t1).Nanoseconds()
				baseNS += t1.Sub(t0).Nanoseconds()
			}
			ns := float64(trackNS) / float64(b.N*len(evs))
			b.ReportMetric(ns, "ns/event")
			b.ReportMetric(1e9/ns, "events/s")
			b.ReportMetric(float64(trackNS)/float64(baseNS), "x_baseline")
			if sink.steps < b.N*900 {
				b.Fatalf("%d steps out of %d", sink.steps, b.N*900)
			}
		})
	}
}
