package tracer

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// ErrNoEntryPoints reports a libcuda that exports none of the probed calls.
var ErrNoEntryPoints = errors.New("library exports no probed CUDA driver entry point")

type libKey struct {
	dev   procfs.Dev
	inode uint64
}

// attachPoint is one exported entry point of one library, with its file offset.
type attachPoint struct {
	probe  probe
	symbol string
	offset uint64
}

// libPoints lists a library's attach points, from its ELF: every exported variant of
// every probed call. Results are cached by device and inode, so a library shared by many
// processes is read once.
func (t *Tracer) libPoints(lib procfs.Lib) ([]attachPoint, error) {
	key := libKey{lib.Dev, lib.Inode}
	if pts, ok := t.libs[key]; ok {
		return pts, nil
	}
	syms, err := procfs.ELFSymbols(lib.OpenPath, candidates())
	if err != nil {
		return nil, err
	}
	offs, err := fileOffsets(lib.OpenPath, syms)
	if err != nil {
		return nil, err
	}
	var pts []attachPoint
	for _, p := range probes {
		for _, s := range p.variants(syms) {
			if off, ok := offs[s]; ok {
				pts = append(pts, attachPoint{probe: p, symbol: s, offset: off})
			}
		}
	}
	if len(pts) == 0 {
		return nil, fmt.Errorf("%s: %w", lib.MappedPath, ErrNoEntryPoints)
	}
	t.libs[key] = pts
	return pts, nil
}

// fileOffsets turns symbol values (virtual addresses) into the file offsets uprobes take:
// value - segment vaddr + segment offset, within the executable PT_LOAD holding it.
func fileOffsets(path string, syms map[string]uint64) (map[string]uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open elf %s: %w", path, err)
	}
	defer f.Close()
	out := make(map[string]uint64, len(syms))
	for name, v := range syms {
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && p.Vaddr <= v && v < p.Vaddr+p.Memsz {
				out[name] = v - p.Vaddr + p.Off
				break
			}
		}
	}
	return out, nil
}

// cudaLinks are the uprobes of one process's libcuda.
type cudaLinks struct {
	lib    procfs.Lib
	exe    *link.Executable
	points []attachPoint
	links  []link.Link // waits, copies, memory, names, capture, graph launches
	launch []link.Link // kernel launches: detached while launch mode is off
}

// attachCUDA attaches every probe of the table to pid's libcuda, the kernel launch
// probes only when withLaunches. Nothing stays attached when it fails.
func (t *Tracer) attachCUDA(pid uint32, lib procfs.Lib, withLaunches bool) (*cudaLinks, error) {
	pts, err := t.libPoints(lib)
	if err != nil {
		return nil, err
	}
	exe, err := link.OpenExecutable(lib.OpenPath)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", lib.OpenPath, err)
	}
	c := &cudaLinks{lib: lib, exe: exe, points: pts}
	if c.links, err = c.attachSet(t.objs, pid, false); err != nil {
		return nil, err
	}
	if withLaunches {
		if err := c.attachLaunches(t.objs, pid); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// attachLaunches attaches the kernel launch probes (launch mode on or sampled).
func (c *cudaLinks) attachLaunches(o *objects, pid uint32) error {
	if len(c.launch) > 0 {
		return nil
	}
	l, err := c.attachSet(o, pid, true)
	c.launch = l
	return err
}

func (c *cudaLinks) close() {
	closeLinks(c.launch)
	closeLinks(c.links)
	c.launch, c.links = nil, nil
}

// attachSet attaches the kernel launch points (launches) or all the others: with
// uprobe_multi, one link per program; else one perf-event uprobe per point and program.
// Nothing stays attached when it fails.
func (c *cudaLinks) attachSet(o *objects, pid uint32, launches bool) ([]link.Link, error) {
	var links []link.Link
	for _, kind := range []progKind{progLaunch, progLaunchEx, progGraphLaunch, progCall} {
		var pts []attachPoint
		for _, ap := range c.points {
			if ap.probe.prog == kind && ap.probe.kernelLaunch() == launches {
				pts = append(pts, ap)
			}
		}
		if len(pts) == 0 {
			continue
		}
		entry, ret := o.cuda.programs(kind)
		// The return probe goes first, so that no entry state is saved for a call
		// whose return would be missed.
		for _, p := range []struct {
			prog *ebpf.Program
			ret  bool
		}{{ret, true}, {entry, false}} {
			if p.prog == nil {
				continue
			}
			l, err := c.attachProg(o.multi, pid, pts, p.prog, p.ret)
			links = append(links, l...)
			if err != nil {
				closeLinks(links)
				return nil, err
			}
		}
	}
	return links, nil
}

func (c *cudaLinks) attachProg(multi bool, pid uint32, pts []attachPoint, prog *ebpf.Program, ret bool) ([]link.Link, error) {
	kind := "uprobe"
	if ret {
		kind = "uretprobe"
	}
	if multi {
		opts := &link.UprobeMultiOptions{PID: pid}
		for _, ap := range pts {
			opts.Addresses = append(opts.Addresses, ap.offset)
			opts.Cookies = append(opts.Cookies, cookie(ap.probe.call, ap.symbol))
		}
		attach := c.exe.UprobeMulti
		if ret {
			attach = c.exe.UretprobeMulti
		}
		l, err := attach(nil, prog, opts)
		if err != nil {
			return nil, fmt.Errorf("attach %s %s to %d entry points of pid %d: %w", kind, prog, len(pts), pid, err)
		}
		return []link.Link{l}, nil
	}
	var links []link.Link
	for _, ap := range pts {
		opts := &link.UprobeOptions{PID: int(pid), Address: ap.offset, Cookie: cookie(ap.probe.call, ap.symbol)}
		attach := c.exe.Uprobe
		if ret {
			attach = c.exe.Uretprobe
		}
		l, err := attach(ap.symbol, prog, opts)
		if err != nil {
			return links, fmt.Errorf("attach %s %s of pid %d: %w", kind, ap.symbol, pid, err)
		}
		links = append(links, l)
	}
	return links, nil
}
