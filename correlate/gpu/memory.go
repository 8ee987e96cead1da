package gpustep

// Memory is what a process allocated and freed through the traced calls.
type Memory struct {
	PID            uint32 `json:"pid"`
	AllocatedBytes uint64 `json:"allocated_bytes"` // successful allocations, all of them
	FreedBytes     uint64 `json:"freed_bytes"`     // frees of known allocations
	CurrentBytes   uint64 `json:"current_bytes"`   // live tracked allocations
	PeakBytes      uint64 `json:"peak_bytes"`      // highest CurrentBytes
	Allocs         uint64 `json:"allocs"`
	Frees          uint64 `json:"frees"`
	// UnknownFrees counts frees of addresses or handles not allocated while traced.
	UnknownFrees uint64 `json:"unknown_frees"`
	// Untracked counts allocations past Config.LiveAllocs, or without an address or
	// handle (in AllocatedBytes only).
	Untracked uint64 `json:"untracked"`
	// MarkerNS is the marker time (SetMarker), MarkerSet whether there is one.
	MarkerNS  uint64 `json:"marker_ns,omitempty"`
	MarkerSet bool   `json:"marker_set"`
	// BeforeBytes is the live memory allocated before the marker (all of CurrentBytes
	// while no marker is set), AfterBytes the live memory allocated at or after it.
	BeforeBytes uint64 `json:"before_bytes"`
	AfterBytes  uint64 `json:"after_bytes"`
}

type alloc struct{ size, ts uint64 }

type memState struct {
	ptrs    map[uint64]alloc // cuMemAlloc/cuMemAllocAsync by device pointer
	handles map[uint64]alloc // cuMemCreate by allocation handle
	limit   int
	m       Memory
}

func (s *memState) after(a alloc) bool { return s.m.MarkerSet && a.ts >= s.m.MarkerNS }

func (s *memState) alloc(live *map[uint64]alloc, key, size, ts uint64) {
	s.m.Allocs++
	s.m.AllocatedBytes += size
	if key == 0 {
		s.m.Untracked++ // no address or handle to free it by
		return
	}
	if *live == nil {
		*live = make(map[uint64]alloc)
	}
	if old, ok := (*live)[key]; ok {
		// the same address again: its free was not seen, so it is gone
		s.drop(old)
	} else if len(s.ptrs)+len(s.handles) >= s.limit {
		s.m.Untracked++
		return
	}
	a := alloc{size: size, ts: ts}
	(*live)[key] = a
	s.m.CurrentBytes += size
	s.m.PeakBytes = max(s.m.PeakBytes, s.m.CurrentBytes)
	if s.after(a) {
		s.m.AfterBytes += size
	} else {
		s.m.BeforeBytes += size
	}
}

func (s *memState) free(live map[uint64]alloc, key uint64) {
	if key == 0 {
		return // freeing NULL is a no-op
	}
	a, ok := live[key]
	if !ok {
		s.m.UnknownFrees++
		return
	}
	delete(live, key)
	s.m.Frees++
	s.m.FreedBytes += a.size
	s.drop(a)
}

// drop takes a live allocation out of the current figures.
func (s *memState) drop(a alloc) {
	s.m.CurrentBytes -= a.size
	if s.after(a) {
		s.m.AfterBytes -= a.size
	} else {
		s.m.BeforeBytes -= a.size
	}
}

func (s *memState) setMarker(ts uint64) {
	s.m.MarkerNS, s.m.MarkerSet = ts, true
	s.m.BeforeBytes, s.m.AfterBytes = 0, 0
	for _, live := range []map[uint64]alloc{s.ptrs, s.handles} {
		for _, a := range live {
			if s.after(a) {
				s.m.AfterBytes += a.size
			} else {
				s.m.BeforeBytes += a.size
			}
		}
	}
}

// SetMarker sets the time that splits a process's memory into Before and After (the
// unit's first served request); setting it again moves it. A process not seen yet is
// created, so the marker holds for its later allocations.
func (tr *Tracker) SetMarker(pid uint32, ts uint64) {
	tr.proc(pid).mem.setMarker(ts)
}

// Memory returns a process's memory figures.
func (tr *Tracker) Memory(pid uint32) (Memory, error) {
	p := tr.procs[pid]
	if p == nil {
		return Memory{}, ErrUnknownPID
	}
	m := p.mem.m
	m.PID = pid
	return m, nil
}
