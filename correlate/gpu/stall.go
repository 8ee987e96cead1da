package gpustep

import (
	"cmp"
	"slices"
)

// inflight returns the waits in flight at now that pass keep, longest first (ties by pid, tid).
func (tr *Tracker) inflight(now uint64, keep func(d uint64) bool) []Stall {
	var out []Stall
	for _, th := range tr.threads {
		if !th.inflight {
			continue
		}
		d := sub(now, th.wStart)
		if keep(d) {
			out = append(out, Stall{PID: th.pid, TID: th.tid, Call: th.wCall, SinceNS: th.wStart, DurationNS: d})
		}
	}
	slices.SortFunc(out, func(a, b Stall) int {
		if a.DurationNS != b.DurationNS {
			return cmp.Compare(b.DurationNS, a.DurationNS)
		}
		if a.PID != b.PID {
			return cmp.Compare(a.PID, b.PID)
		}
		return cmp.Compare(a.TID, b.TID)
	})
	return out
}

// Stalls returns the waits in flight for at least Config.StallAfter at now (stream time,
// CLOCK_MONOTONIC ns), longest first: stalled GPUs, while they are still stuck.
func (tr *Tracker) Stalls(now uint64) []Stall {
	return tr.inflight(now, func(d uint64) bool { return d >= tr.stallNS })
}

// LongestWaits returns, per process with a wait in flight at now, its longest one,
// whatever its length, longest first.
func (tr *Tracker) LongestWaits(now uint64) []Stall {
	all := tr.inflight(now, func(uint64) bool { return true })
	seen := make(map[uint32]bool, len(all))
	out := all[:0]
	for _, s := range all {
		if !seen[s.PID] {
			seen[s.PID] = true
			out = append(out, s)
		}
	}
	return out
}
