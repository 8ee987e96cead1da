package correlate

import (
	"fmt"
	"strings"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// A serving unit is the set of processes that serve one endpoint (design.md, Serving
// units). Processes in a container are grouped by container; elsewhere a process belongs
// to the unit of its nearest ancestor (or itself) that serves connections — the front
// end that owns the listening socket — and, when it has none, to its highest known
// ancestor. A unit's name is fixed the first time it is asked for, so records of one
// unit never change name midway.

type proc struct {
	pid, ppid uint32
	comm      string
	container string
	cgroup    string
	listen    []string
	front     bool // accepted or served a connection, or was found listening
	startNS   uint64
	unit      string
}

// Units tracks processes and their serving units.
type Units struct {
	procs map[uint32]*proc
	// restarts counts, per unit, processes of the unit that exec'd or were replaced.
	starts map[string]int
}

// NewUnits returns an empty process table.
func NewUnits() *Units {
	return &Units{procs: make(map[uint32]*proc), starts: make(map[string]int)}
}

func (u *Units) get(pid uint32) *proc {
	p := u.procs[pid]
	if p == nil {
		p = &proc{pid: pid}
		u.procs[pid] = p
	}
	return p
}

// Proc applies a process event.
func (u *Units) Proc(e *event.Proc) {
	switch e.Op {
	case event.ProcFound, event.ProcExec:
		p := u.get(e.PID)
		if e.PPID != 0 {
			p.ppid = e.PPID
		}
		if e.Comm != "" {
			p.comm = e.Comm
		}
		if e.Container != "" {
			p.container, p.cgroup = e.Container, e.Cgroup
		}
		if len(e.Listen) > 0 {
			p.listen = e.Listen
			p.front = true
		}
		if e.StartNS != 0 {
			p.startNS = e.StartNS
		}
	case event.ProcFork:
		parent := u.procs[e.PPID]
		c := u.get(e.PID)
		c.ppid = e.PPID
		if parent != nil {
			c.comm, c.container, c.cgroup, c.unit = parent.comm, parent.container, parent.cgroup, parent.unit
		}
		c.startNS = e.TS
	case event.ProcExit: // the whole process (event.ProcExit)
		delete(u.procs, e.PID)
	}
}

// Serving marks pid as a front end: it accepted or read a request on a connection.
func (u *Units) Serving(pid uint32) {
	p := u.get(pid)
	if !p.front {
		p.front = true
	}
}

// Unit returns the name of pid's serving unit.
func (u *Units) Unit(pid uint32) string {
	p := u.get(pid)
	if p.unit != "" {
		return p.unit
	}
	p.unit = u.resolve(p)
	return p.unit
}

func (u *Units) resolve(p *proc) string {
	if p.container != "" {
		return "container:" + short(p.container)
	}
	top := p
	seen := map[uint32]bool{}
	for q := p; q != nil && q.pid > 1 && !seen[q.pid]; q = u.procs[q.ppid] {
		seen[q.pid] = true
		if q.unit != "" && q != p {
			return q.unit
		}
		if q.front {
			return unitName(q)
		}
		top = q
	}
	return unitName(top)
}

func unitName(p *proc) string {
	comm := p.comm
	if comm == "" {
		comm = "pid"
	}
	for _, l := range p.listen {
		if i := strings.IndexByte(l, ':'); i > 0 && strings.HasPrefix(l, "tcp") {
			return comm + ":" + l[i+1:]
		}
	}
	return fmt.Sprintf("%s/%d", comm, p.pid)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// StartNS returns the start time of pid, 0 when unknown.
func (u *Units) StartNS(pid uint32) uint64 {
	if p := u.procs[pid]; p != nil {
		return p.startNS
	}
	return 0
}

// ContainerCgroups returns, per unit that runs in a container, the cgroup path of one of
// its processes (for naming its pod).
func (u *Units) ContainerCgroups() map[string]string {
	out := map[string]string{}
	for _, p := range u.procs {
		if p.cgroup != "" {
			out[u.Unit(p.pid)] = p.cgroup
		}
	}
	return out
}
