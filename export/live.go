package export

import (
	"sort"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// LiveSource is the correlator as Live reads it; *correlate.Correlator is one. It is
// read on the correlator's own goroutine only.
type LiveSource interface {
	Snapshot(now uint64) []correlate.UnitSnapshot
	GPU() *gpustep.Tracker
	Units() *correlate.Units
}

// Live keeps the latest copy of the correlator's per-unit gauges and cumulative GPU
// counters for scrapes. The correlator is not safe for concurrent use, so the goroutine
// that feeds it calls Publish (from the pipe's tick); a scrape reads the copy under a
// mutex and never touches the correlator.
//
// The correlator forgets a process when it exits or execs, so its counters would go
// back. Live reads them one last time (Observe, from the pipe's tap) and adds them to
// their unit's, so the unit's counters never decrease; an exited process that the unit
// replaces with a new one counts as a restart.
type Live struct {
	labels UnitLabeler
	topN   int
	every  time.Duration

	// owned by the publishing goroutine
	procs    map[uint32]*procCounts
	retired  map[string]*unitCounts
	exited   map[string]int
	restarts map[string]uint64
	names    map[string]map[string]bool // per unit, the kernel names with their own series
	last     time.Time

	mu    sync.Mutex
	state liveState
}

// LiveOptions tune a Live. The zero value takes the defaults.
type LiveOptions struct {
	// TopKernels is how many kernel names per unit get their own series of
	// inferprobe_cuda_kernel_launches_total; the rest count as "other" (default 20).
	// A name keeps its series once it has one, so no counter goes back.
	TopKernels int
	// Every is the least time between two publications (default 1 s); Publish returns at
	// once before that.
	Every time.Duration
}

type procCounts struct {
	unit    string
	u       unitCounts
	kernels map[string]uint64
}

type unitCounts struct {
	launches, graphLaunches, waitNS, hostGapNS uint64
	kernels                                    map[string]uint64
}

func (c *unitCounts) add(o unitCounts) {
	c.launches += o.launches
	c.graphLaunches += o.graphLaunches
	c.waitNS += o.waitNS
	c.hostGapNS += o.hostGapNS
	if len(o.kernels) > 0 && c.kernels == nil {
		c.kernels = map[string]uint64{}
	}
	for k, v := range o.kernels {
		c.kernels[k] += v
	}
}

// LiveUnit is one unit as last published.
type LiveUnit struct {
	correlate.UnitSnapshot
	// Cumulative over every process the unit ever had (exited ones included).
	Launches, GraphLaunches, WaitNS, HostGapNS uint64
	Restarts                                   uint64
	// Kernels are the launches per kernel name with a series, and OtherKernels the rest
	// ("other"); sorted by name.
	Kernels      []gpustep.KernelCount
	OtherKernels uint64
	// StartUnix is StartNS as Unix time in seconds (0 when unknown).
	StartUnix float64
}

type liveState struct {
	at    time.Time
	units []LiveUnit
	pids  map[uint32]string
}

// NewLive returns an empty Live; labels names a unit's pod (nil: none).
func NewLive(labels UnitLabeler, o LiveOptions) *Live {
	if o.TopKernels <= 0 {
		o.TopKernels = 20
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	return &Live{labels: labels, topN: o.TopKernels, every: o.Every, procs: map[uint32]*procCounts{},
		retired: map[string]*unitCounts{}, exited: map[string]int{}, restarts: map[string]uint64{},
		names: map[string]map[string]bool{}}
}

// Publish reads src at stream time now (CLOCK_MONOTONIC ns), whose wall-clock time is
// wall, and makes it what scrapes see. It returns at once when the last publication is
// younger than LiveOptions.Every (by wall). Call it on src's goroutine only.
func (l *Live) Publish(src LiveSource, now uint64, wall time.Time) {
	if !l.last.IsZero() && wall.Sub(l.last) < l.every {
		return
	}
	l.last = wall
	snaps := src.Snapshot(now)
	live := l.countProcs(src)

	byUnit := map[string]*LiveUnit{}
	for _, s := range snaps {
		u := &LiveUnit{UnitSnapshot: s}
		if s.StartNS != 0 && s.StartNS <= now {
			u.StartUnix = float64(wall.UnixNano()-int64(now-s.StartNS)) / 1e9
		}
		byUnit[s.Unit] = u
	}
	for name, r := range l.retired {
		if byUnit[name] == nil {
			byUnit[name] = &LiveUnit{UnitSnapshot: correlate.UnitSnapshot{Unit: name}}
		}
		live[name] = addCounts(live[name], *r)
	}
	st := liveState{at: wall, pids: map[uint32]string{}}
	for pid, p := range l.procs {
		st.pids[pid] = p.unit
	}
	for name, u := range byUnit {
		c := live[name]
		u.Launches, u.GraphLaunches, u.WaitNS, u.HostGapNS = c.launches, c.graphLaunches, c.waitNS, c.hostGapNS
		u.Restarts = l.restarts[name]
		u.Kernels, u.OtherKernels = l.kernelSeries(name, c.kernels)
		st.units = append(st.units, *u)
	}
	sort.Slice(st.units, func(i, j int) bool { return st.units[i].Unit < st.units[j].Unit })
	l.mu.Lock()
	l.state = st
	l.mu.Unlock()
}

func addCounts(a, b unitCounts) unitCounts {
	var out unitCounts
	out.add(a)
	out.add(b)
	return out
}

// countProcs reads every process's counters, retires the processes that are gone and
// counts restarts; it returns the live processes' counts summed per unit.
func (l *Live) countProcs(src LiveSource) map[string]unitCounts {
	tr := src.GPU()
	seen := map[uint32]bool{}
	sums := map[string]unitCounts{}
	for _, pid := range tr.PIDs() {
		us, err := tr.Usage(pid)
		if err != nil {
			continue
		}
		seen[pid] = true
		p := l.procs[pid]
		if p == nil {
			p = &procCounts{unit: src.Units().Unit(pid)}
			l.procs[pid] = p
			if l.exited[p.unit] > 0 {
				l.exited[p.unit]--
				l.restarts[p.unit]++
			}
		}
		next := l.read(tr, pid, us)
		if next.launches < p.u.launches || next.graphLaunches < p.u.graphLaunches || next.waitNS < p.u.waitNS || next.hostGapNS < p.u.hostGapNS {
			// The pid was forgotten and seen again without Observe seeing why: keep
			// what its earlier life counted.
			l.retire(p)
			l.restarts[p.unit]++
		}
		p.u = next
		s := sums[p.unit]
		s.add(p.u)
		sums[p.unit] = s
	}
	for pid, p := range l.procs {
		if seen[pid] {
			continue
		}
		l.retire(p)
		l.exited[p.unit]++
		delete(l.procs, pid)
	}
	return sums
}

// Observe sees every event before the correlator does (the pipe's tap), so that a
// process's counters are read one last time before an exit or exec makes the correlator
// forget them. Call it on the correlator's goroutine only.
func (l *Live) Observe(src LiveSource, e event.Event) {
	pe, ok := e.(*event.Proc)
	if !ok || !(pe.Op == event.ProcExec || pe.Op == event.ProcExit) {
		return
	}
	tr := src.GPU()
	us, err := tr.Usage(pe.PID)
	if err != nil {
		return // not a GPU process
	}
	p := l.procs[pe.PID]
	if p == nil {
		p = &procCounts{unit: src.Units().Unit(pe.PID)}
		if l.exited[p.unit] > 0 {
			l.exited[p.unit]--
			l.restarts[p.unit]++
		}
	}
	p.u = l.read(tr, pe.PID, us)
	l.retire(p)
	l.exited[p.unit]++
	delete(l.procs, pe.PID)
}

// read returns a process's counters from its usage and kernel table.
func (l *Live) read(tr *gpustep.Tracker, pid uint32, us gpustep.Usage) unitCounts {
	c := unitCounts{launches: us.Launches, graphLaunches: us.GraphLaunches, waitNS: us.WaitNS, hostGapNS: us.HostGapNS}
	if ks, err := tr.TopKernels(pid, maxKernelNames); err == nil {
		c.kernels = make(map[string]uint64, len(ks))
		for _, k := range ks {
			c.kernels[k.Name] = k.Count
		}
	}
	return c
}

// retire adds a process's last counts to its unit's retired ones.
func (l *Live) retire(p *procCounts) {
	r := l.retired[p.unit]
	if r == nil {
		r = &unitCounts{}
		l.retired[p.unit] = r
	}
	r.add(p.u)
}

// Units returns the units as last published, by name, and when they were published.
func (l *Live) Units() ([]LiveUnit, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.units, l.state.at
}

// UnitOf returns the serving unit of a pid with GPU activity as last published ("" for
// none); it suits NewGPUCollector's unitOf.
func (l *Live) UnitOf(pid uint32) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.pids[pid]
}
