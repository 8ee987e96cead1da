package tracer

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/inferprobe/inferprobe/tracer/event"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// Why a process is traced.
const (
	reasonPID      = "pid"      // named by Config.PIDs or Track
	reasonCgroup   = "cgroup"   // in a configured cgroup, or in the container of an auto-found process
	reasonAuto     = "auto"     // maps libcuda (Config.Auto)
	reasonFrontEnd = "frontend" // an ancestor of an auto-found process that listens on TCP
	reasonFork     = "fork"     // child of a traced process
)

// target is one traced process. Callers hold Tracer.mu.
type target struct {
	pid        uint32
	reason     string
	startTicks uint64 // from stat, to tell a reused pid apart; 0 until read
	cgroup     string
	cuda       *cudaLinks // nil while no libcuda is attached
	// failed is the library whose attach failed: it is not retried until the process
	// maps another one (or execs).
	failed *libKey
}

// trackTree traces pid and the descendants it already has: a server's engine and
// worker processes were started before the tracer attached, and later children are
// tracked by the fork hook. A descendant that exits meanwhile is skipped. Callers hold t.mu.
func (t *Tracer) trackTree(pid uint32) error {
	if err := t.track(pid, reasonPID, true); err != nil {
		return err
	}
	tree, err := t.fs.Tree()
	if err != nil {
		t.log.Warn("list the children of a traced process", "pid", pid, "err", err)
		return nil
	}
	for _, d := range tree.Descendants(int(pid)) {
		if uint32(d) == t.self {
			continue
		}
		t.trackFound(uint32(d), reasonFork)
	}
	return nil
}

// track starts tracing pid: the kernel's tracked map (sockets, lifecycle, children) and,
// when it maps libcuda, its CUDA probes. found emits a ProcFound event.
func (t *Tracer) track(pid uint32, reason string, found bool) error {
	if _, ok := t.targets[pid]; ok {
		return nil
	}
	if pid == t.self {
		return fmt.Errorf("track pid %d: that is the tracer itself", pid)
	}
	p, libErr := t.fs.Process(int(pid))
	if libErr != nil && (p.PID == 0 || errors.Is(libErr, procfs.ErrGone)) {
		return fmt.Errorf("track pid %d: %w", pid, libErr)
	}
	if err := t.objs.proc.Tracked.Put(pid, uint32(trackOn)); err != nil {
		return fmt.Errorf("track pid %d: %w", pid, err)
	}
	tg := &target{pid: pid, reason: reason, startTicks: p.StartTicks, cgroup: p.Cgroup}
	t.targets[pid] = tg
	if found {
		ev := &event.Proc{
			Header: event.Header{TS: monotonicNow(), PID: pid, TID: pid},
			Op:     event.ProcFound, PPID: uint32(p.PPID), Comm: p.Comm, StartNS: p.StartNS,
			Cgroup: p.Cgroup, Container: procfs.ContainerID(p.Cgroup), Listen: t.listening(pid),
		}
		if p.HasLibcuda {
			ev.Libcuda = p.Libcuda.MappedPath
		}
		t.emit(ev)
	}
	switch {
	case libErr != nil:
		t.st.attachFailed(libErr)
		t.log.Warn("libcuda cannot be opened", "pid", pid, "err", libErr)
	case p.HasLibcuda:
		t.attachTarget(tg, p.Libcuda)
	}
	t.log.Debug("tracking", "pid", pid, "reason", reason, "libcuda", p.HasLibcuda)
	return nil
}

func (t *Tracer) attachTarget(tg *target, lib procfs.Lib) {
	key := libKey{lib.Dev, lib.Inode}
	if tg.failed != nil && *tg.failed == key {
		return
	}
	c, err := t.attachCUDA(tg.pid, lib, !t.mode.Off)
	if err != nil {
		tg.failed = &key
		t.st.attachFailed(err)
		t.log.Warn("attach cuda probes", "pid", tg.pid, "lib", lib.MappedPath, "err", err)
		return
	}
	tg.failed = nil
	tg.cuda = c
}

// untrack stops tracing pid. Callers hold t.mu and run on Run's goroutine.
func (t *Tracer) untrack(pid uint32) {
	if tg, ok := t.targets[pid]; ok {
		t.detach(tg)
		delete(t.targets, pid)
	}
	_ = t.objs.proc.Tracked.Delete(pid) // the kernel deletes it itself at exit
	t.res.forget(pid)
}

// listening names the sockets pid listens on, as event.Proc.Listen has them.
func (t *Tracer) listening(pid uint32) []string {
	ls, err := t.fs.Listeners(int(pid))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range ls {
		switch {
		case l.Family == "unix" && l.Path != "":
			out = append(out, "unix:"+l.Path)
		case l.Family != "unix":
			out = append(out, fmt.Sprintf("%s:%d", l.Family, l.Port))
		}
	}
	return out
}

// onProc keeps the traced set current from the kernel's lifecycle records and fills in
// what the kernel does not know. Callers hold t.mu.
func (t *Tracer) onProc(e *event.Proc) {
	if t.closed {
		return
	}
	switch e.Op {
	case event.ProcFork:
		// The kernel tracks the child already; its libcuda, if it uses one, is attached
		// by the next rescan (a fork child of a CUDA process rarely calls CUDA).
		tg := &target{pid: e.PID, reason: reasonFork}
		if parent, ok := t.targets[e.PPID]; ok {
			tg.cgroup = parent.cgroup
		}
		if _, ok := t.targets[e.PID]; !ok {
			t.targets[e.PID] = tg
		}
		e.Cgroup = t.targets[e.PID].cgroup
		e.Container = procfs.ContainerID(e.Cgroup)
	case event.ProcExec:
		t.res.forget(e.PID)
		if tg, ok := t.targets[e.PID]; ok {
			t.detach(tg) // the old image's libcuda is gone; the next rescan attaches the new one
			tg.failed = nil
			e.Cgroup = tg.cgroup
			e.Container = procfs.ContainerID(tg.cgroup)
		}
	case event.ProcExit:
		if tg, ok := t.targets[e.PID]; ok {
			e.Cgroup = tg.cgroup
			e.Container = procfs.ContainerID(tg.cgroup)
			if tg.cuda != nil {
				e.Libcuda = tg.cuda.lib.MappedPath
			}
		}
		t.untrack(e.PID)
	}
}

// rescan checks the traced processes (gone? a libcuda mapped since?), adopts children
// the kernel tracked whose fork record was lost, and looks for new processes to trace.
// Callers hold t.mu and run on Run's goroutine.
func (t *Tracer) rescan() {
	if t.closed {
		return
	}
	for pid, tg := range t.targets {
		st, err := t.fs.Stat(int(pid))
		if err != nil || st.State == 'Z' || st.State == 'X' || tg.startTicks != 0 && st.StartTicks != tg.startTicks {
			t.untrack(pid) // exited while its exit record was lost, or a new process reuses the pid
			continue
		}
		tg.startTicks = st.StartTicks
		if tg.cuda != nil {
			continue
		}
		lib, ok, err := t.fs.FindLib(int(pid), procfs.IsLibcuda)
		switch {
		case ok:
			t.attachTarget(tg, lib)
		case err != nil && !errors.Is(err, procfs.ErrGone) && tg.failed == nil:
			tg.failed = &libKey{}
			t.st.attachFailed(err)
		}
	}
	var pid, flags uint32
	it := t.objs.proc.Tracked.Iterate()
	for it.Next(&pid, &flags) {
		if _, ok := t.targets[pid]; !ok {
			t.targets[pid] = &target{pid: pid, reason: reasonFork}
		}
	}
	t.discover()
}

// discover looks through every process for new ones to trace: those in a traced cgroup
// and, in auto mode, those that map libcuda. Callers hold t.mu.
func (t *Tracer) discover() {
	if !t.cfg.Auto && len(t.cgroups) == 0 {
		return
	}
	pids, err := t.fs.PIDs()
	if err != nil {
		t.log.Warn("list processes", "err", err)
		return
	}
	for _, p := range pids {
		pid := uint32(p)
		if _, ok := t.targets[pid]; ok || pid == t.self {
			continue
		}
		if len(t.cgroups)+len(t.autoCgroups) > 0 {
			if cg, err := t.fs.Cgroup(p); err == nil && t.inCgroups(cg) {
				t.trackFound(pid, reasonCgroup)
				continue
			}
		}
		if !t.cfg.Auto {
			continue
		}
		if t.mapsLibcuda(p) && t.trackFound(pid, reasonAuto) {
			t.addFrontEnd(pid)
		}
	}
}

// mapsLibcuda reports whether pid maps libcuda (whether or not it opens from here: track
// says when it does not).
func (t *Tracer) mapsLibcuda(pid int) bool {
	ms, err := t.fs.Maps(pid)
	if err != nil {
		return false
	}
	for _, m := range ms {
		if m.IsFile() && procfs.IsLibcuda(m.Path) {
			return true
		}
	}
	return false
}

func (t *Tracer) trackFound(pid uint32, reason string) bool {
	if err := t.track(pid, reason, true); err != nil {
		if !errors.Is(err, procfs.ErrGone) {
			t.log.Warn("track", "pid", pid, "err", err)
		}
		return false
	}
	return true
}

// addFrontEnd traces what serves an auto-found GPU process: its whole container, or
// outside containers its ancestors that listen on TCP (the HTTP front end that spawned
// the engine).
func (t *Tracer) addFrontEnd(pid uint32) {
	tg := t.targets[pid]
	if tg == nil {
		return
	}
	if tg.cgroup != "" && procfs.ContainerID(tg.cgroup) != "" {
		t.autoCgroups[tg.cgroup] = true
		return
	}
	cur := int(pid)
	for depth := 0; depth < 16; depth++ {
		st, err := t.fs.Stat(cur)
		if err != nil || st.PPID <= 1 || uint32(st.PPID) == t.self {
			return
		}
		cur = st.PPID
		if _, ok := t.targets[uint32(cur)]; ok {
			continue
		}
		ls, err := t.fs.Listeners(cur)
		if err != nil {
			continue
		}
		for _, l := range ls {
			if l.Family == "tcp" || l.Family == "tcp6" {
				t.trackFound(uint32(cur), reasonFrontEnd)
				break
			}
		}
	}
}

func (t *Tracer) inCgroups(cg string) bool {
	match := func(c string) bool { return c == "/" || cg == c || strings.HasPrefix(cg, c+"/") }
	for _, c := range t.cgroups {
		if match(c) {
			return true
		}
	}
	for c := range t.autoCgroups {
		if match(c) {
			return true
		}
	}
	return false
}

// normalizeCgroup turns a cgroup given as a path under /sys/fs/cgroup, or as
// /proc/PID/cgroup prints it, into the latter form.
func normalizeCgroup(p string) string {
	p = strings.TrimPrefix(p, "/sys/fs/cgroup")
	return path.Clean("/" + p)
}

// trackOn is the tracked map's value (bpf/common.h).
const trackOn = procTrackFlagsTRACK_ON
