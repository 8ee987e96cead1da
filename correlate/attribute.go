package correlate

import (
	"fmt"
	"sort"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/correlate/wire"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// Attribution (design.md, Definitions). A unit's steps are kept in the order they end.
// A streamed request's content write at time w carries the token of the unit's latest
// step that ended at or before w: the engine emits tokens right after the step's wait
// returns, so the write follows its step. The step of the first content write is the
// request's prefill step. A non-streamed request with n output tokens got them from the
// last n steps that ended before its response (one token per step while it runs), so
// its first token and phases are estimated from those steps. A step's batch size is the
// number of requests that got a token from it; it is final once every request that was
// open when the step ended has ended.

type heldStep struct {
	s     gpustep.UnitStep
	batch int
	// decodes counts the tokens it gave requests whose first token came from an earlier
	// step (the rest of its batch got their first token from it).
	decodes int
	// live counts the streamed requests whose content writes followed it, as they came:
	// the batch size before the step is final.
	live  int
	final bool
}

type unitState struct {
	name  string
	steps []*heldStep // by EndNS
	// open are the outer requests arrived (or joined, when partial) and not ended, each
	// with the ID of the latest step its content writes followed (the live batch count).
	open    map[*wire.Exchange]uint64
	pending []*wire.Exchange        // ended, awaiting Settle
	inner   map[*wire.Exchange]bool // server exchanges that are an internal hop
	clients map[uint16]int          // local ports of the unit's outgoing HTTP connections
	unixOut int                     // the unit's outgoing HTTP exchanges over unix sockets
	served  bool                    // an outer request has been seen
	waiting int
	running int
	partial int                      // open partial requests (joined in flight)
	tokens  uint64                   // output tokens streamed so far (content events as written; the rest at each end)
	ended   uint64                   // outer requests ended so far
	firstNS uint64                   // first outer request's arrival: the memory marker
	chunk   fcfs                     // chunked-prefill placement (Options.ChunkedPrefill)
	order   map[*wire.Exchange]order // settled requests' place in the engine's order
}

func newUnitState(name string) *unitState {
	return &unitState{name: name, open: map[*wire.Exchange]uint64{}, inner: map[*wire.Exchange]bool{}, clients: map[uint16]int{},
		order: map[*wire.Exchange]order{}}
}

func (c *Correlator) arrived(x *wire.Exchange) {
	u := c.unit(c.units.Unit(x.PID))
	if x.Side == wire.SideClient {
		if x.Family == event.FamilyUnix {
			u.unixOut++
		} else {
			u.clients[x.LocalPort]++
		}
		return
	}
	c.units.Serving(x.PID)
	if u.clients[x.RemotePort] > 0 && x.Family != event.FamilyUnix || x.Family == event.FamilyUnix && u.unixOut > 0 {
		u.inner[x] = true
		c.stats.Inner++
		return
	}
	if !u.served {
		u.served, u.firstNS = true, x.SinceNS()
		for pid := range c.unitPIDs(u.name) {
			c.gpu.SetMarker(pid, x.SinceNS())
		}
	}
	u.open[x] = 0
	u.waiting++
	if x.Partial {
		u.partial++
	}
}

func (c *Correlator) unitPIDs(name string) map[uint32]bool {
	out := map[uint32]bool{}
	for _, pid := range c.gpu.PIDs() {
		if c.units.Unit(pid) == name {
			out[pid] = true
		}
	}
	return out
}

func (c *Correlator) firstContent(x *wire.Exchange) {
	u := c.unit(c.units.Unit(x.PID))
	if _, ok := u.open[x]; ok {
		u.waiting--
		u.running++
	}
}

// content counts a content write of x at ts: its tokens toward the unit's stream of
// output tokens, and x toward the live batch of the step the write follows.
func (c *Correlator) content(x *wire.Exchange, ts uint64, n int) {
	u := c.unit(c.units.Unit(x.PID))
	last, ok := u.open[x]
	if !ok {
		return
	}
	u.tokens += uint64(n)
	if k := u.before(ts); k >= 0 && u.steps[k].s.ID != last {
		u.steps[k].live++
		u.open[x] = u.steps[k].s.ID
	}
}

func (c *Correlator) ended(x *wire.Exchange) {
	u := c.unit(c.units.Unit(x.PID))
	if x.Side == wire.SideClient {
		if x.Family == event.FamilyUnix {
			u.unixOut--
		} else if u.clients[x.LocalPort]--; u.clients[x.LocalPort] <= 0 {
			delete(u.clients, x.LocalPort)
		}
		return
	}
	if u.inner[x] {
		delete(u.inner, x)
		return
	}
	if _, ok := u.open[x]; !ok {
		return
	}
	delete(u.open, x)
	if x.FirstContentNS() != 0 {
		u.running--
	} else {
		u.waiting--
	}
	if x.Partial {
		u.partial--
	}
	u.ended++
	// The tokens not counted as they were written: a non-streamed response's, and those
	// a usage count reports beyond the content events (several tokens an event).
	if n, from := outputTokens(x); from == "usage" && n > x.ContentEvents && !x.Partial {
		u.tokens += uint64(n - x.ContentEvents)
	}
	if c.closing && x.End == wire.EndFlushed {
		c.stats.Unfinished++ // still in flight when the stream ended: no end, no record
		return
	}
	u.pending = append(u.pending, x)
}

func (c *Correlator) addUnitSteps(steps []gpustep.UnitStep) {
	for _, s := range steps {
		u := c.unit(s.Unit)
		h := &heldStep{s: s}
		i := sort.Search(len(u.steps), func(i int) bool { return u.steps[i].s.EndNS > s.EndNS })
		u.steps = append(u.steps, nil)
		copy(u.steps[i+1:], u.steps[i:])
		u.steps[i] = h
	}
}

// finalize emits the requests that have settled and then the steps that no open request
// can still add to. all: the stream has ended.
func (c *Correlator) finalize(u *unitState, all bool) {
	settle := uint64(c.opt.Settle)
	if c.opt.ChunkedPrefill {
		c.finalizeInOrder(u, all)
	} else {
		n := 0
		for _, x := range u.pending {
			if !all && x.EndNS+settle > c.now {
				u.pending[n] = x
				n++
				continue
			}
			c.sink.Request(c.request(u, x))
			c.stats.Requests++
		}
		clear(u.pending[n:])
		u.pending = u.pending[:n]
	}

	// Steps ending before the earliest open or pending arrival are final.
	horizon := ^uint64(0)
	if !all {
		for x := range u.open {
			horizon = min(horizon, u.openSince(x))
		}
		for _, x := range u.pending {
			horizon = min(horizon, u.openSince(x))
		}
		if c.now > settle {
			horizon = min(horizon, c.now-settle)
		} else {
			horizon = 0
		}
	}
	for i, h := range u.steps {
		if h.final {
			continue
		}
		if h.s.EndNS > horizon && !(len(u.steps)-i > c.opt.MaxHeldSteps) {
			break
		}
		h.final = true
		u.sawStep(h.batch)
		c.sink.Step(c.step(u, h))
		c.stats.Steps++
	}
	// Keep a margin of final steps for lookups (chunked prefill looks back).
	const keep = 64
	drop := 0
	for drop < len(u.steps)-keep && u.steps[drop].final && u.steps[drop].s.EndNS < horizon {
		drop++
	}
	if drop > 0 {
		clear(u.steps[:drop])
		u.steps = u.steps[drop:]
	}
}

// finalizeInOrder emits settled requests in the engine's order (chunked.go: orderOf), each
// once no request still open or settling arrived before the step of its first token, or
// Options.OrderWait after its own end: its placement needs the requests ahead of it
// placed and the decode counts of the steps before its first token complete.
func (c *Correlator) finalizeInOrder(u *unitState, all bool) {
	settle, wait := uint64(c.opt.Settle), uint64(c.opt.OrderWait)
	oldest := ^uint64(0) // the earliest arrival of a request open or settling
	for x := range u.open {
		oldest = min(oldest, x.SinceNS())
	}
	var settled []*wire.Exchange
	n := 0
	for _, x := range u.pending {
		if !all && x.EndNS+settle > c.now {
			oldest = min(oldest, x.SinceNS())
			u.pending[n] = x
			n++
			continue
		}
		if x.Partial { // past its prefill already: it has no place in the engine's order
			c.sink.Request(c.request(u, x))
			c.stats.Requests++
			continue
		}
		if _, ok := u.order[x]; !ok {
			u.order[x] = orderOf(u, x) // its steps are all in now
		}
		settled = append(settled, x)
	}
	sort.SliceStable(settled, func(i, j int) bool { return u.order[settled[i]].before(u.order[settled[j]]) })
	for i, x := range settled {
		if !all && u.order[x].ns >= oldest && x.EndNS+settle+wait > c.now {
			n += copy(u.pending[n:], settled[i:]) // waits for those before it
			break
		}
		delete(u.order, x)
		c.sink.Request(c.request(u, x))
		c.stats.Requests++
	}
	clear(u.pending[n:])
	u.pending = u.pending[:n]
}

// openSince is the earliest step end that x can still add to: its arrival, or for a
// partial request just before the end of the step its first write seen follows (its
// tokens go to steps that ended before it was joined).
func (u *unitState) openSince(x *wire.Exchange) uint64 {
	if !x.Partial {
		return x.ArrivalNS
	}
	if k := u.before(x.JoinedNS); k >= 0 && u.steps[k].s.EndNS > 0 {
		return u.steps[k].s.EndNS - 1
	}
	return x.JoinedNS
}

// before returns the index of the latest step of u ending at or before ts, or -1.
func (u *unitState) before(ts uint64) int {
	return sort.Search(len(u.steps), func(i int) bool { return u.steps[i].s.EndNS > ts }) - 1
}

func (c *Correlator) step(u *unitState, h *heldStep) *Step {
	s := h.s
	out := &Step{ID: s.ID, Unit: u.name, StartNS: s.StartNS, EndNS: s.EndNS, Kind: string(s.Kind),
		Wait: seconds(s.WaitNS), Launches: s.Launches, GraphLaunches: s.GraphLaunches, Result: s.Result}
	if len(s.Parts) > 0 {
		out.PID, out.TID = s.Parts[0].PID, s.Parts[0].TID
		for _, p := range s.Parts {
			out.LaunchSpan = max(out.LaunchSpan, seconds(p.LaunchSpanNS))
		}
		if len(s.Parts) > 1 {
			for _, p := range s.Parts {
				out.PIDs = append(out.PIDs, p.PID)
			}
		}
	}
	if s.HostGapNS != nil {
		out.HostGap = ptr(seconds(*s.HostGapNS))
	}
	if u.served {
		out.BatchSize = ptr(h.batch)
	}
	return out
}

func (c *Correlator) nextID() string {
	c.seq++
	return fmt.Sprintf("inferprobe-%d", c.seq)
}
