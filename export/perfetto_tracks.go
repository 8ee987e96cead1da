package export

import (
	"fmt"
	"sort"

	"github.com/inferprobe/inferprobe/correlate"
)

// requests adds, per unit, the request lanes and the queue and batch counters.
func (b *traceBuilder) requests(reqs []correlate.Request, steps []correlate.Step) {
	units := unitsOf(reqs, func(r *correlate.Request) string { return r.Unit })
	units = append(units, unitsOf(steps, func(s *correlate.Step) string { return s.Unit })...)
	units = unitsOf(units, func(s *string) string { return *s })
	for i, unit := range units {
		pid := requestsPID + i
		b.meta("process_name", pid, 0, "requests "+unit)
		b.meta("process_sort_index", pid, 0, fmt.Sprint(i))
		var rs []*correlate.Request
		for j := range reqs {
			if reqs[j].Unit == unit {
				rs = append(rs, &reqs[j])
			}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].SinceNS() < rs[j].SinceNS() })
		var ln lanes
		for _, r := range rs {
			b.request(r, pid, ln.place(r.SinceNS(), max(r.EndNS, r.SinceNS()))+1)
		}
		for lane := range ln.ends {
			b.meta("thread_name", pid, lane+1, fmt.Sprintf("lane %d", lane))
		}
		b.queueCounters(rs, pid)
		var ss []*correlate.Step
		for j := range steps {
			if steps[j].Unit == unit && steps[j].BatchSize != nil {
				ss = append(ss, &steps[j])
			}
		}
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].EndNS < ss[j].EndNS })
		for _, s := range ss {
			b.counter("batch size", pid, s.EndNS, map[string]any{"requests": *s.BatchSize})
		}
	}
}

// request adds one request's slice and, when it got a first token, its phases inside it.
func (b *traceBuilder) request(r *correlate.Request, pid, tid int) {
	a, end := r.SinceNS(), max(r.EndNS, r.SinceNS())
	args := map[string]any{"class": r.Class, "path": r.Path, "stream": r.Stream}
	if r.E2E != nil {
		args["e2e_ms"] = ms3(r.E2E)
	}
	if r.Partial {
		args["partial"] = true // in flight at the attach: the slice starts where it was joined
	}
	if r.Status != nil {
		args["status"] = *r.Status
	}
	if r.OutputTokens != nil {
		args["output_tokens"] = *r.OutputTokens
	}
	if r.TTFT != nil {
		args["ttft_ms"] = ms3(r.TTFT)
	}
	if r.TPOT != nil {
		args["tpot_ms"] = ms3(r.TPOT)
	}
	if r.Estimated {
		args["estimated"] = true
	}
	b.slice(r.ID, "request", pid, tid, a, end, args)
	if r.FirstTokenNS == nil {
		return
	}
	f := min(max(*r.FirstTokenNS, a), end)
	ps := a // the prefill's start: arrival + queue
	if r.Queue != nil {
		ps = min(a+uint64(*r.Queue*1e9+0.5), f)
	}
	if ps > a {
		b.slice("queue", "phase", pid, tid, a, ps, nil)
	}
	if f > ps {
		b.slice("prefill", "phase", pid, tid, ps, f, nil)
	}
	if end > f {
		b.slice("decode", "phase", pid, tid, f, end, nil)
	}
}

// queueCounters adds the counter of requests waiting (arrived, no first token) and
// running (first token, not ended) at every change.
func (b *traceBuilder) queueCounters(rs []*correlate.Request, pid int) {
	type change struct {
		ts               uint64
		waiting, running int
	}
	var cs []change
	for _, r := range rs {
		a := r.SinceNS()
		end := max(r.EndNS, a)
		if r.Partial { // running from the attach
			cs = append(cs, change{a, 0, 1}, change{end, 0, -1})
			continue
		}
		cs = append(cs, change{a, 1, 0})
		if r.FirstTokenNS != nil && *r.FirstTokenNS <= end && *r.FirstTokenNS >= a {
			cs = append(cs, change{*r.FirstTokenNS, -1, 1}, change{end, 0, -1})
		} else {
			cs = append(cs, change{end, -1, 0})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].ts < cs[j].ts })
	w, run := 0, 0
	for i, c := range cs {
		w, run = w+c.waiting, run+c.running
		if i+1 < len(cs) && cs[i+1].ts == c.ts {
			continue
		}
		b.counter("requests", pid, c.ts, map[string]any{"waiting": w, "running": run})
	}
}

// steps adds a track per engine thread with its steps, each holding its closing wait.
func (b *traceBuilder) steps(steps []correlate.Step) {
	type track struct{ pid, tid uint32 }
	by := map[track][]*correlate.Step{}
	unitOf := map[uint32]string{}
	for i := range steps {
		s := &steps[i]
		k := track{s.PID, s.TID}
		by[k] = append(by[k], s)
		unitOf[s.PID] = s.Unit
	}
	keys := make([]track, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].pid != keys[j].pid {
			return keys[i].pid < keys[j].pid
		}
		return keys[i].tid < keys[j].tid
	})
	named := map[uint32]bool{}
	for _, k := range keys {
		pid, tid := int(k.pid), int(k.tid)
		if !named[k.pid] {
			named[k.pid] = true
			b.meta("process_name", pid, 0, fmt.Sprintf("engine %s pid %d", unitOf[k.pid], k.pid))
		}
		ss := by[k]
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].StartNS < ss[j].StartNS })
		var ln lanes
		for _, s := range ss {
			end := max(s.EndNS, s.StartNS)
			t := tid + ln.place(s.StartNS, end)*laneTID
			args := map[string]any{"id": s.ID, "launches": s.Launches, "graph_launches": s.GraphLaunches, "wait_ms": ms3(&s.Wait)}
			if s.BatchSize != nil {
				args["batch_size"] = *s.BatchSize
			}
			if s.HostGap != nil {
				args["host_gap_ms"] = ms3(s.HostGap)
			}
			if len(s.PIDs) > 0 {
				args["pids"] = s.PIDs
			}
			if s.Result != 0 {
				args["result"] = s.Result
			}
			b.slice(s.Kind, "step", pid, t, s.StartNS, end, args)
			if w := uint64(s.Wait*1e9 + 0.5); w > 0 {
				b.slice("wait", "wait", pid, t, max(s.StartNS, end-min(w, end)), end, nil)
			}
		}
		for lane := range ln.ends {
			name := fmt.Sprintf("tid %d", k.tid)
			if lane > 0 {
				name += fmt.Sprintf(" (overlapping steps %d)", lane)
			}
			b.meta("thread_name", pid, tid+lane*laneTID, name)
		}
	}
}

// gpus adds, per GPU, counter tracks of the sampled NVML figures.
func (b *traceBuilder) gpus(samples []GPUSample) {
	named := map[int]bool{}
	for _, s := range samples {
		for _, d := range s.Devices {
			pid := gpuPID + d.Index
			if !named[d.Index] {
				named[d.Index] = true
				b.meta("process_name", pid, 0, fmt.Sprintf("GPU %d %s", d.Index, d.Name))
			}
			put := func(name string, v *float64, scale float64) {
				if v != nil {
					b.counter(name, pid, s.TS, map[string]any{"value": *v * scale})
				}
			}
			put("utilization %", d.Utilization, 100)
			put("memory bandwidth busy %", d.MemoryUtilization, 100)
			if d.MemoryUsedBytes != nil {
				used := float64(*d.MemoryUsedBytes)
				put("memory used GiB", &used, 1.0/(1<<30))
			}
			put("temperature C", d.TemperatureCelsius, 1)
			put("power W", d.PowerWatts, 1)
			put("SM clock MHz", d.SMClockHz, 1e-6)
			if d.Throttle != nil {
				n := 0
				for _, r := range d.Throttle.Names() {
					if r != "gpu_idle" {
						n++
					}
				}
				b.counter("throttle reasons", pid, s.TS, map[string]any{"value": n})
			}
		}
	}
}
