package correlate

import (
	"sort"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

// UnitSnapshot is a unit's live state and cumulative GPU counters at one moment.
type UnitSnapshot struct {
	Unit    string
	PIDs    []uint32 // its processes with GPU activity
	Waiting int      // arrived, no first token
	Running int      // first token, not ended (partial requests included)
	Partial int      // of Running, the requests in flight when inferprobe attached
	// OutputTokens is the output tokens streamed so far, counted as they are written
	// (a non-streamed response's, and any a usage count adds, at its end).
	OutputTokens uint64
	// Ended is the requests that have ended so far, counted at their end (a record
	// follows once it has settled).
	Ended uint64
	// LiveBatch is the mean number of streamed requests that got a token from each step
	// ending in the second before now (less the front end's lag), counted as the tokens
	// are written; LiveBatchSteps is how many steps that is (0: no value).
	LiveBatch      float64
	LiveBatchSteps int
	// Conns counts the unit's open connections by state (wire.EachConn: "http",
	// "unsynced", "tls", "http2", "zmq", "binary").
	Conns map[string]int
	// LongestWaitNS is the longest blocking wait in flight now (0 when none), and
	// Stalled how many waits have been in flight past the stall threshold.
	LongestWaitNS uint64
	Stalled       int
	// Memory allocated through the driver and still live: before the unit's first
	// request (weights, preallocated caches) and after it (dynamic).
	MemBeforeBytes, MemAfterBytes uint64
	Launches, GraphLaunches       uint64
	WaitNS, HostGapNS, BusyNS     uint64
	Faulted                       bool
	// StartNS is the earliest start of its GPU processes (CLOCK_MONOTONIC, 0 unknown).
	StartNS uint64
}

// Snapshot returns every unit's live state at stream time now, by unit name.
func (c *Correlator) Snapshot(now uint64) []UnitSnapshot {
	by := map[string]*UnitSnapshot{}
	get := func(name string) *UnitSnapshot {
		s := by[name]
		if s == nil {
			s = &UnitSnapshot{Unit: name}
			by[name] = s
		}
		return s
	}
	for name, u := range c.us {
		s := get(name)
		s.Waiting, s.Running, s.Partial, s.OutputTokens, s.Ended = u.waiting, u.running, u.partial, u.tokens, u.ended
		if u.served {
			s.LiveBatch, s.LiveBatchSteps = u.liveBatch(now)
		}
	}
	c.wire.EachConn(func(pid uint32, state string) {
		s := get(c.units.Unit(pid))
		if s.Conns == nil {
			s.Conns = map[string]int{}
		}
		s.Conns[state]++
	})
	for _, pid := range c.gpu.PIDs() {
		s := get(c.units.Unit(pid))
		s.PIDs = append(s.PIDs, pid)
		if us, err := c.gpu.Usage(pid); err == nil {
			s.Launches += us.Launches
			s.GraphLaunches += us.GraphLaunches
			s.WaitNS += us.WaitNS
			s.HostGapNS += us.HostGapNS
			s.BusyNS += us.BusyNS
			s.Faulted = s.Faulted || us.Faulted
		}
		if m, err := c.gpu.Memory(pid); err == nil {
			s.MemBeforeBytes += m.BeforeBytes
			s.MemAfterBytes += m.AfterBytes
		}
		if st := c.units.StartNS(pid); st != 0 && (s.StartNS == 0 || st < s.StartNS) {
			s.StartNS = st
		}
	}
	for _, w := range c.gpu.LongestWaits(now) {
		s := get(c.units.Unit(w.PID))
		s.LongestWaitNS = max(s.LongestWaitNS, w.DurationNS)
	}
	for _, w := range c.gpu.Stalls(now) {
		get(c.units.Unit(w.PID)).Stalled++
	}
	out := make([]UnitSnapshot, 0, len(by))
	for _, s := range by {
		sort.Slice(s.PIDs, func(i, j int) bool { return s.PIDs[i] < s.PIDs[j] })
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	return out
}

// TopKernels returns a unit's n most launched kernel names over its processes.
func (c *Correlator) TopKernels(unit string, n int) []gpustep.KernelCount {
	sum := map[string]uint64{}
	for _, pid := range c.gpu.PIDs() {
		if c.units.Unit(pid) != unit {
			continue
		}
		ks, err := c.gpu.TopKernels(pid, n)
		if err != nil {
			continue
		}
		for _, k := range ks {
			sum[k.Name] += k.Count
		}
	}
	out := make([]gpustep.KernelCount, 0, len(sum))
	for name, cnt := range sum {
		out = append(out, gpustep.KernelCount{Name: name, Count: cnt})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// liveLag is how long after a step ends its tokens are taken to have been written.
const liveLag = 100e6

// liveBatch is the mean live batch count of u's steps that ended in the second before
// now-liveLag, and how many steps that is.
func (u *unitState) liveBatch(now uint64) (float64, int) {
	if now < liveLag+1e9 {
		return 0, 0
	}
	lo, hi := now-liveLag-1e9, now-liveLag
	sum, n := 0, 0
	for i := len(u.steps) - 1; i >= 0 && u.steps[i].s.EndNS > lo; i-- {
		if u.steps[i].s.EndNS <= hi {
			sum += u.steps[i].live
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(sum) / float64(n), n
}
