package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/inferprobe/inferprobe/tracer"
)

func init() {
	register(command{name: "doctor", summary: "check what this host allows (kernel, BTF, privileges, tracefs, libcuda, NVML)", run: runDoctor})
}

// doctorHost is what doctor asks of the host; realHost asks the machine, tests a fake.
type doctorHost interface {
	KernelRelease() (string, error)
	EUID() int
	// CapEff is the effective capability set of this process.
	CapEff() (uint64, error)
	Exists(path string) bool
	// LoadBPF loads (and unloads) a trivial BPF program.
	LoadBPF() error
	// LibcudaProcesses lists the processes that map libcuda and counts those whose maps
	// could not be read.
	LibcudaProcesses() (procs []cudaProcess, unreadable int, err error)
	// GPUs lists the GPUs NVML sees, by name.
	GPUs() ([]string, error)
}

type cudaProcess struct {
	PID  int
	Comm string
	Lib  string // the libcuda path as the process maps it
	Err  error  // why the library cannot be opened from here, if it cannot
}

// Host paths doctor checks.
const (
	btfFile       = "/sys/kernel/btf/vmlinux"
	tracefsEvents = "/sys/kernel/tracing/events"
	debugfsEvents = "/sys/kernel/debug/tracing/events"
	tracefsMount  = "/sys/kernel/tracing"
	uprobePMU     = "/sys/bus/event_source/devices/uprobe"
)

// Capabilities the tracer uses (include/uapi/linux/capability.h) and why.
var neededCaps = []struct {
	bit  uint
	name string
	why  string
}{
	{39, "CAP_BPF", "load the probes"},
	{38, "CAP_PERFMON", "attach uprobes and tracepoints"},
	{capSysResource, "CAP_SYS_RESOURCE", "lift the memlock limit on kernels before 5.11"},
	{19, "CAP_SYS_PTRACE", "read other users' /proc/PID/maps and map_files"},
	{2, "CAP_DAC_READ_SEARCH", "open libcuda through /proc/PID/root"},
}

const (
	capSysAdmin    = 21 // CAP_SYS_ADMIN
	capSysResource = 24 // CAP_SYS_RESOURCE
)

// check is one line of the report.
type check struct {
	name   string
	status string // "ok", "missing" (needed), "note" (optional or informative)
	text   string
}

// doctorChecks runs every check against h. An error in one check is its result.
func doctorChecks(h doctorHost) []check {
	var cs []check
	add := func(name, status, format string, args ...any) {
		cs = append(cs, check{name, status, fmt.Sprintf(format, args...)})
	}

	want := fmt.Sprintf("%d.%d", tracer.MinKernel[0], tracer.MinKernel[1])
	rel, err := h.KernelRelease()
	switch {
	case err != nil:
		add("kernel", "missing", "the kernel version is unreadable (%v): inferprobe needs Linux %s or later", err, want)
	case !kernelAtLeast(rel, tracer.MinKernel):
		add("kernel", "missing", "Linux %s is older than %s: upgrade the kernel to %s or later (uprobe attach cookies)", rel, want, want)
	default:
		add("kernel", "ok", "Linux %s (%s or later needed)", rel, want)
	}

	if h.Exists(btfFile) {
		add("btf", "ok", "kernel BTF at %s", btfFile)
	} else {
		add("btf", "missing", "no kernel BTF at %s: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distribution kernels since 2021)", btfFile)
	}

	// Kernels before 5.11 charge BPF memory to the memlock limit, lifted with
	// CAP_SYS_RESOURCE; later ones charge it to the cgroup.
	cs = append(cs, privilegeCheck(h, err != nil || !kernelAtLeast(rel, [2]int{5, 11})))

	switch {
	case h.Exists(tracefsEvents) || h.Exists(debugfsEvents):
		add("tracefs", "ok", "mounted")
	case h.Exists(tracefsMount):
		add("tracefs", "ok", "not mounted: inferprobe mounts it on %s when it starts (or run: mount -t tracefs nodev %s)", tracefsMount, tracefsMount)
	default:
		add("tracefs", "missing", "not mounted and %s does not exist: mount the host's /sys (in a container: -v /sys:/sys) or a kernel with CONFIG_TRACING", tracefsMount)
	}

	if err := h.LoadBPF(); err != nil {
		add("bpf", "missing", "the kernel refused a trivial BPF program (%s): run as root or with CAP_BPF, and check sysctl kernel.unprivileged_bpf_disabled and any seccomp profile", operatorText(err))
	} else {
		add("bpf", "ok", "bpf(2) loads programs")
	}

	if h.Exists(uprobePMU) {
		add("uprobes", "ok", "uprobe events supported (%s)", uprobePMU)
	} else {
		add("uprobes", "missing", "no %s: the kernel lacks CONFIG_UPROBE_EVENTS, so libcuda calls cannot be traced", uprobePMU)
	}

	cs = append(cs, libcudaCheck(h))

	if gpus, err := h.GPUs(); err != nil {
		add("nvml", "note", "%v: GPU health metrics are skipped, everything else runs (install the NVIDIA driver, or point --path.nvml at libnvidia-ml.so.1)", err)
	} else {
		add("nvml", "ok", "%d GPUs: %s", len(gpus), summarize(gpus, 4))
	}
	return cs
}

func privilegeCheck(h doctorHost, memlock bool) check {
	caps, err := h.CapEff()
	if err != nil {
		if h.EUID() == 0 {
			return check{"privileges", "ok", fmt.Sprintf("root (capabilities unreadable: %v)", err)}
		}
		return check{"privileges", "missing", fmt.Sprintf("not root and the capabilities are unreadable (%v): run with sudo", err)}
	}
	var missing, why []string
	for _, c := range neededCaps {
		if c.bit == capSysResource && !memlock {
			continue
		}
		has := caps&(1<<c.bit) != 0
		if !has && (c.bit == 39 || c.bit == 38) && caps&(1<<capSysAdmin) != 0 {
			has = true // CAP_SYS_ADMIN covers both on every kernel
		}
		if !has {
			missing = append(missing, c.name)
			why = append(why, c.name+" to "+c.why)
		}
	}
	who := "not root"
	if h.EUID() == 0 {
		who = "root"
	}
	if len(missing) == 0 {
		return check{"privileges", "ok", who + " with every capability needed"}
	}
	return check{"privileges", "missing", fmt.Sprintf("%s, missing %s: run with sudo, or grant them (setcap %s+ep on the binary; in Kubernetes, securityContext.capabilities.add) - %s",
		who, strings.Join(missing, ", "), strings.ToLower(strings.Join(missing, ",")), strings.Join(why, "; "))}
}

func libcudaCheck(h doctorHost) check {
	procs, unreadable, err := h.LibcudaProcesses()
	if err != nil {
		return check{"libcuda", "note", fmt.Sprintf("processes unreadable (%v): run sudo inferprobe doctor (reading other processes' maps needs root or CAP_SYS_PTRACE)", err)}
	}
	if len(procs) == 0 {
		text := "no process maps libcuda now: the agent waits for one (or name it with --pid or --cgroup)"
		switch {
		case unreadable > 0 && h.EUID() != 0 && !canPtrace(h):
			text = fmt.Sprintf("none found among the processes this user can read; %d others could not be read: run sudo inferprobe doctor to see them all", unreadable)
		case unreadable > 0:
			text += fmt.Sprintf("; %d processes could not be read (in a container: run with hostPID and CAP_SYS_PTRACE)", unreadable)
		}
		return check{"libcuda", "note", text}
	}
	var ok, bad []string
	for _, p := range procs {
		s := fmt.Sprintf("%d (%s)", p.PID, p.Comm)
		if p.Err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", s, p.Err))
		} else {
			ok = append(ok, s)
		}
	}
	if len(bad) > 0 {
		return check{"libcuda", "missing", fmt.Sprintf("mapped by %d processes, not openable from here for %s: run in the host's pid namespace (hostPID) as root", len(procs), summarize(bad, 3))}
	}
	return check{"libcuda", "ok", fmt.Sprintf("mapped by %d processes: %s (%s)", len(procs), summarize(ok, 5), procs[0].Lib)}
}

// summarize joins at most n items and says how many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

func kernelAtLeast(rel string, want [2]int) bool {
	var maj, min int
	if _, err := fmt.Sscanf(rel, "%d.%d", &maj, &min); err != nil {
		return false
	}
	return maj > want[0] || maj == want[0] && min >= want[1]
}

// writeDoctor prints one line per check and returns the names of the needed ones that
// failed.
func writeDoctor(w io.Writer, cs []check) []string {
	var failed []string
	for _, c := range cs {
		fmt.Fprintf(w, "%-8s %-11s %s\n", c.status, c.name, c.text)
		if c.status == "missing" {
			failed = append(failed, c.name)
		}
	}
	return failed
}

func runDoctor(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", stderr)
	procfsRoot := fs.String("path.procfs", "/proc", "procfs mount point")
	nvml := fs.String("path.nvml", "", "the NVML library to load (default: libnvidia-ml.so.1 from the loader's path)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	failed := writeDoctor(stdout, doctorChecks(realHost{procfs: *procfsRoot, nvml: *nvml}))
	if len(failed) > 0 {
		return fmt.Errorf("this host lacks what tracing needs (%s): see the lines marked missing", strings.Join(failed, ", "))
	}
	fmt.Fprintln(stdout, "inferprobe can trace on this host.")
	return nil
}

// libraryHint is advice cilium/ebpf adds for programmers ("consider rlimit.RemoveMemlock",
// which inferprobe already calls); an operator can do nothing with it.
var libraryHint = regexp.MustCompile(` \(MEMLOCK may be too low, consider rlimit\.RemoveMemlock\)`)

// operatorText is err's text without advice meant for the programmer.
func operatorText(err error) string { return libraryHint.ReplaceAllString(err.Error(), "") }

// canPtrace reports whether the user holds CAP_SYS_PTRACE (bit 19): other users'
// /proc/PID/maps are readable.
func canPtrace(h doctorHost) bool {
	caps, err := h.CapEff()
	return err == nil && caps&(1<<19) != 0
}
