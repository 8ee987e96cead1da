package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// objects are the three loaded probe families. The ring buffer, the tracked map and the
// drop counters are created once (with proc) and shared by the other two.
type objects struct {
	proc procObjects
	sock sockObjects
	cuda cudaObjects
	// multi: the CUDA programs attach through uprobe_multi links (one per program and
	// process), else through one perf-event uprobe per entry point.
	multi bool
}

// haveUprobeMulti reports whether uprobe_multi links can be used: the kernel has them
// (6.6) and filters them by process rather than by thread (6.11, commit 46ba0e49b642
// "bpf: fix multi-uprobe PID filtering logic"; before, only the thread whose pid was
// given would trap).
func haveUprobeMulti() bool {
	if features.HaveBPFLinkUprobeMulti() != nil {
		return false
	}
	rel, err := unameRelease()
	if err != nil {
		return false
	}
	v, ok := parseRelease(rel)
	return ok && (v[0] > 6 || v[0] == 6 && v[1] >= 11)
}

type loadOptions struct {
	ringBytes    uint32
	payloadBytes uint32
	// perfUprobes attaches one perf-event uprobe per entry point even where
	// uprobe_multi links exist (tests of the fallback).
	perfUprobes bool
}

// loadObjects loads the three families into the kernel.
func loadObjects(opts loadOptions) (*objects, error) {
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("remove memlock limit: %w", err)
	}
	o := new(objects)

	procSpec, err := loadProc()
	if err != nil {
		return nil, fmt.Errorf("parse proc objects: %w", err)
	}
	procSpec.Maps[procMapRb].MaxEntries = opts.ringBytes
	if err := setWakeup(procSpec, opts.ringBytes); err != nil {
		return nil, err
	}
	if err := procSpec.LoadAndAssign(&o.proc, nil); err != nil {
		return nil, loadError("proc", err)
	}
	shared := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		procMapRb:      o.proc.Rb,
		procMapTracked: o.proc.Tracked,
		procMapDrops:   o.proc.Drops,
	}}

	sockSpec, err := loadSock()
	if err != nil {
		o.close()
		return nil, fmt.Errorf("parse sock objects: %w", err)
	}
	sockSpec.Maps[sockMapRb].MaxEntries = opts.ringBytes
	if err := sockSpec.Variables[sockVarPayloadMax].Set(opts.payloadBytes); err != nil {
		o.close()
		return nil, fmt.Errorf("set payload_max: %w", err)
	}
	if err := setWakeup(sockSpec, opts.ringBytes); err != nil {
		o.close()
		return nil, err
	}
	if err := sockSpec.LoadAndAssign(&o.sock, shared); err != nil {
		o.close()
		return nil, loadError("sock", err)
	}

	cudaSpec, err := loadCuda()
	if err != nil {
		o.close()
		return nil, fmt.Errorf("parse cuda objects: %w", err)
	}
	cudaSpec.Maps[cudaMapRb].MaxEntries = opts.ringBytes
	if err := setWakeup(cudaSpec, opts.ringBytes); err != nil {
		o.close()
		return nil, err
	}
	o.multi = !opts.perfUprobes && haveUprobeMulti()
	if o.multi {
		for _, p := range cudaSpec.Programs {
			p.AttachType = ebpf.AttachTraceUprobeMulti
		}
	}
	if err := cudaSpec.LoadAndAssign(&o.cuda, shared); err != nil {
		o.close()
		return nil, loadError("cuda", err)
	}
	return o, nil
}

// setWakeup sets an object's wakeup_bytes: the kernel wakes the reader when a quarter
// of the ring is waiting; otherwise Run polls every pollInterval.
func setWakeup(spec *ebpf.CollectionSpec, ringBytes uint32) error {
	if err := spec.Variables["wakeup_bytes"].Set(ringBytes / 4); err != nil {
		return fmt.Errorf("set wakeup_bytes: %w", err)
	}
	return nil
}

// loadError keeps the whole verifier log: its %+v form has every line.
func loadError(family string, err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("load %s objects: %w\nverifier log:\n%+v", family, err, ve)
	}
	return fmt.Errorf("load %s objects: %w", family, err)
}

func (o *objects) close() {
	o.cuda.Close()
	o.sock.Close()
	o.proc.Close()
}

// setLaunchSample writes launch_sample[0]: record 1 in every kernel launches (0: all).
func (o *objects) setLaunchSample(every uint32) error {
	if err := o.cuda.LaunchSample.Put(uint32(0), every); err != nil {
		return fmt.Errorf("set launch sampling: %w", err)
	}
	return nil
}

// attachStatic attaches the programs that are not per process: the lifecycle tracepoints
// and the socket syscall tracepoints. They filter on the tracked map.
func (o *objects) attachStatic() ([]link.Link, error) {
	var links []link.Link
	fail := func(err error) ([]link.Link, error) {
		closeLinks(links)
		return nil, err
	}
	for _, p := range []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_fork", o.proc.ProcFork},
		{"sched_process_exec", o.proc.ProcExec},
		{"sched_process_exit", o.proc.ProcExit},
	} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog})
		if err != nil {
			return fail(fmt.Errorf("attach tp_btf %s: %w", p.name, err))
		}
		links = append(links, l)
	}
	for _, s := range []struct {
		name  string
		enter *ebpf.Program
	}{
		{"read", o.sock.SysEnterRead}, {"readv", o.sock.SysEnterReadv},
		{"recvfrom", o.sock.SysEnterRecvfrom}, {"recvmsg", o.sock.SysEnterRecvmsg},
		{"write", o.sock.SysEnterWrite}, {"writev", o.sock.SysEnterWritev},
		{"sendto", o.sock.SysEnterSendto}, {"sendmsg", o.sock.SysEnterSendmsg},
		{"accept", o.sock.SysEnterAccept}, {"accept4", o.sock.SysEnterAccept4},
		{"close", o.sock.SysEnterClose}, {"connect", o.sock.SysEnterConnect},
	} {
		l, err := link.Tracepoint("syscalls", "sys_enter_"+s.name, s.enter, nil)
		if err != nil {
			return fail(fmt.Errorf("attach tracepoint syscalls/sys_enter_%s: %w", s.name, err))
		}
		links = append(links, l)
		l, err = link.Tracepoint("syscalls", "sys_exit_"+s.name, o.sock.SysExitSock, nil)
		if err != nil {
			return fail(fmt.Errorf("attach tracepoint syscalls/sys_exit_%s: %w", s.name, err))
		}
		links = append(links, l)
	}
	return links, nil
}

func closeLinks(links []link.Link) {
	for _, l := range links {
		l.Close()
	}
}

// drops sums the per-CPU drop counters by reason.
func (o *objects) drops() (map[string]uint64, error) {
	out := make(map[string]uint64)
	var per []uint64
	for r := cudaDropReasonDROP_CUDA_LAUNCH; r < cudaDropReasonDROP_MAX; r++ {
		if err := o.proc.Drops.Lookup(uint32(r), &per); err != nil {
			return nil, fmt.Errorf("read drops: %w", err)
		}
		var sum uint64
		for _, n := range per {
			sum += n
		}
		out[dropName(r)] = sum
	}
	return out, nil
}

func dropName(r cudaDropReason) string {
	switch r {
	case cudaDropReasonDROP_CUDA_LAUNCH:
		return "cuda_launch"
	case cudaDropReasonDROP_CUDA_CALL:
		return "cuda_call"
	case cudaDropReasonDROP_CUDA_ARGS:
		return "cuda_args"
	case cudaDropReasonDROP_SOCK:
		return "sock"
	case cudaDropReasonDROP_SOCK_ARGS:
		return "sock_args"
	case cudaDropReasonDROP_PROC:
		return "proc"
	}
	return fmt.Sprintf("reason_%d", uint32(r))
}
