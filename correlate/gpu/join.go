package gpustep

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// JoinConfig tunes a Joiner.
type JoinConfig struct {
	// Unit names the serving unit of a process; "" for a process in none, whose steps
	// pass through as unit steps of one part.
	Unit func(pid uint32) string
	// Tolerance is how far apart two steps may be and still overlap (default 1 ms).
	Tolerance time.Duration
	// Grace is how long after its end a unit step waits for missing workers (default 250 ms).
	Grace time.Duration
	// Recent is how recently a worker must have stepped to be expected in a unit step
	// (default 5 s).
	Recent time.Duration
}

// UnitStep is the steps of the workers of one unit (tensor parallel) that overlap in time.
type UnitStep struct {
	ID      uint64 `json:"id"`
	Unit    string `json:"unit"`
	StartNS uint64 `json:"start_ns"` // the earliest part start
	EndNS   uint64 `json:"end_ns"`   // the latest part end
	// HostGapNS is from the end of the unit's previous unit step to StartNS; nil for the
	// first, or when they overlap.
	HostGapNS     *uint64 `json:"host_gap_ns"`
	WaitNS        uint64  `json:"wait_ns"` // the longest part wait
	Kind          Kind    `json:"kind"`    // decode when every part is decode
	Launches      int     `json:"launches"`
	GraphLaunches int     `json:"graph_launches"`
	Workers       int     `json:"workers"` // len(Parts)
	// Complete is true when every worker that stepped recently contributed a part.
	Complete bool   `json:"complete"`
	Result   int32  `json:"result,omitempty"` // the first error result of a part
	Parts    []Step `json:"parts"`            // by pid, then tid
}

// Joiner joins the steps of a unit's worker processes into unit steps.
//
// Steps are added in the order they close. A step joins the open unit step of its unit
// that it overlaps most (within Tolerance) and holds no step of its process yet; failing
// that, the oldest open one that started before it and ended at most Grace before it
// started (its worker fell behind the others: lagging); else it starts one. A unit step
// is emitted when:
//   - every worker of the unit expected (one whose latest step ended within Recent) has a
//     part in it: the usual case, as soon as the last worker's step closes; for Grace after
//     a unit's first step the worker set is being learnt and this rule waits;
//   - a later step of a process already in it arrives (that worker has moved on);
//   - stream time (the end of the latest step added, or Flush's now) passes its end by
//     more than Grace.
//
// The last two emit it with Complete false when an expected worker is missing.
type Joiner struct {
	unitOf             func(uint32) string
	tol, grace, recent uint64
	units              map[string]*unitState
	order              []*unitState // creation order, for a deterministic output
	nextID             uint64
}

type unitState struct {
	name       string
	workers    map[uint32]uint64 // pid -> end of its latest step
	open       []*group
	learnUntil uint64
	prevEnd    uint64
	havePrev   bool
}

type group struct {
	start, end uint64
	parts      []Step
}

// NewJoiner returns a Joiner.
func NewJoiner(cfg JoinConfig) (*Joiner, error) {
	if cfg.Unit == nil {
		return nil, errors.New("new joiner: nil unit func")
	}
	if cfg.Tolerance < 0 || cfg.Grace < 0 || cfg.Recent < 0 {
		return nil, fmt.Errorf("new joiner: negative duration in %+v", cfg)
	}
	def := func(d, v time.Duration) uint64 {
		if d == 0 {
			d = v
		}
		return uint64(d)
	}
	return &Joiner{
		unitOf: cfg.Unit,
		tol:    def(cfg.Tolerance, time.Millisecond),
		grace:  def(cfg.Grace, 250*time.Millisecond),
		recent: def(cfg.Recent, 5*time.Second),
		units:  make(map[string]*unitState),
	}, nil
}

// Add adds a step (in the order steps close) and returns the unit steps it completed.
func (j *Joiner) Add(s Step) []UnitStep {
	now := s.EndNS
	out := j.expire(now, nil)
	name := j.unitOf(s.PID)
	if name == "" {
		return append(out, j.emit(nil, &group{start: s.StartNS, end: s.EndNS, parts: []Step{s}}, now))
	}
	u := j.units[name]
	if u == nil {
		u = &unitState{name: name, workers: make(map[uint32]uint64), learnUntil: now + j.grace}
		j.units[name] = u
		j.order = append(j.order, u)
	}
	u.workers[s.PID] = max(u.workers[s.PID], s.EndNS)
	for i := 0; i < len(u.open); {
		if u.open[i].has(s.PID) {
			out = j.close(u, i, now, out)
		} else {
			i++
		}
	}
	var g *group
	best := int64(0)
	for _, o := range u.open {
		if s.StartNS > o.end+j.tol || o.start > s.EndNS+j.tol {
			continue
		}
		ov := int64(min(o.end, s.EndNS)) - int64(max(o.start, s.StartNS))
		if g == nil || ov > best {
			g, best = o, ov
		}
	}
	if g == nil {
		g = j.lagging(u, s)
	}
	if g == nil {
		g = &group{start: s.StartNS, end: s.EndNS}
		u.open = append(u.open, g)
	}
	g.parts = append(g.parts, s)
	g.start, g.end = min(g.start, s.StartNS), max(g.end, s.EndNS)
	if now >= u.learnUntil && j.complete(u, g, now) {
		out = j.close(u, slices.Index(u.open, g), now, out)
	}
	return out
}

// lagging returns the open unit step that s, overlapping none, belongs to when its worker
// fell behind: tensor-parallel workers run the same steps in turn, so a worker's step that
// starts after the others' parts of a unit step ended (within Grace) and looks like them
// (the same kind, launches within a factor of two: every rank runs the same kernels) is
// its part of the oldest open unit step it has no part in. Nil when there is none.
func (j *Joiner) lagging(u *unitState, s Step) *group {
	for _, o := range u.open { // in the order they opened; none holds a part of s's worker
		if o.start <= s.StartNS && s.StartNS <= o.end+j.grace && alike(o.parts[0], s) {
			return o
		}
	}
	return nil
}

// alike reports whether two steps look like the same step on two ranks.
func alike(a, b Step) bool {
	na, nb := a.Launches+a.GraphLaunches, b.Launches+b.GraphLaunches
	return a.Kind == b.Kind && na <= 2*nb && nb <= 2*na
}

// Flush emits the unit steps whose end is more than Grace before now (stream time).
func (j *Joiner) Flush(now uint64) []UnitStep { return j.expire(now, nil) }

// Close emits every open unit step.
func (j *Joiner) Close() []UnitStep {
	var out []UnitStep
	for _, u := range j.order {
		for len(u.open) > 0 {
			out = j.close(u, 0, u.open[0].end, out)
		}
	}
	return out
}

// Forget drops a process from its unit's workers (it exited): unit steps stop waiting
// for it. Parts it already gave stay.
func (j *Joiner) Forget(pid uint32) {
	for _, u := range j.order {
		delete(u.workers, pid)
	}
}

func (g *group) has(pid uint32) bool {
	for i := range g.parts {
		if g.parts[i].PID == pid {
			return true
		}
	}
	return false
}

// complete reports whether every expected worker of u has a part in g.
func (j *Joiner) complete(u *unitState, g *group, now uint64) bool {
	for pid, end := range u.workers {
		if end+j.recent >= now && !g.has(pid) {
			return false
		}
	}
	return true
}

func (j *Joiner) expire(now uint64, out []UnitStep) []UnitStep {
	for _, u := range j.order {
		for i := 0; i < len(u.open); {
			if u.open[i].end+j.grace < now {
				out = j.close(u, i, now, out)
			} else {
				i++
			}
		}
		for pid, end := range u.workers {
			if end+j.recent < now {
				delete(u.workers, pid)
			}
		}
	}
	return out
}

// close removes u.open[i] and emits it.
func (j *Joiner) close(u *unitState, i int, now uint64, out []UnitStep) []UnitStep {
	g := u.open[i]
	u.open = slices.Delete(u.open, i, i+1)
	return append(out, j.emit(u, g, now))
}

func (j *Joiner) emit(u *unitState, g *group, now uint64) UnitStep {
	slices.SortFunc(g.parts, func(a, b Step) int {
		if a.PID != b.PID {
			return cmp.Compare(a.PID, b.PID)
		}
		return cmp.Compare(a.TID, b.TID)
	})
	j.nextID++
	us := UnitStep{
		ID: j.nextID, StartNS: g.start, EndNS: g.end, Kind: KindDecode,
		Workers: len(g.parts), Complete: true, Parts: g.parts,
	}
	for _, p := range g.parts {
		us.Launches += p.Launches
		us.GraphLaunches += p.GraphLaunches
		us.WaitNS = max(us.WaitNS, p.WaitNS)
		if p.Kind != KindDecode {
			us.Kind = KindPrefill
		}
		if us.Result == 0 {
			us.Result = p.Result
		}
	}
	if u == nil {
		us.HostGapNS = g.parts[0].HostGapNS
		return us
	}
	us.Unit = u.name
	us.Complete = j.complete(u, g, now)
	if u.havePrev && u.prevEnd <= g.start {
		gap := g.start - u.prevEnd
		us.HostGapNS = &gap
	}
	if !u.havePrev || g.end > u.prevEnd {
		u.prevEnd, u.havePrev = g.end, true
	}
	return us
}
