package tracer

import (
	"strings"

	"github.com/cilium/ebpf"

	"github.com/inferprobe/inferprobe/tracer/event"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// progKind names the BPF program an entry point is attached to.
type progKind uint8

const (
	progLaunch      progKind = iota + 1 // launch: cuLaunchKernel's register and stack layout
	progLaunchEx                        // launch_ex: reads the CUlaunchConfig
	progGraphLaunch                     // graph_launch
	progCall                            // call_enter, and call_return at the return
)

// probe is one row of the probe table: a driver API call, the names its entry points are
// exported under (each with any of procfs.VariantSuffixes), and its programs.
type probe struct {
	call    event.Call
	family  string
	aliases []string
	// noBase drops the bare family name: its v1 ABI (32-bit CUdeviceptr) differs from the
	// _v2 one the program reads; cuda.h maps the name to _v2 since CUDA 3.2.
	noBase bool
	prog   progKind
}

// kernelLaunch reports whether the probe records kernel launches: the ones launch mode
// "off" detaches and "sample:N" thins. Graph launches always stay: they bound steps.
func (p probe) kernelLaunch() bool { return p.prog == progLaunch || p.prog == progLaunchEx }

// probes is the probe table: every CUDA driver entry point inferprobe traces.
var probes = []probe{
	{call: event.CallLaunchKernel, family: "cuLaunchKernel", prog: progLaunch},
	{call: event.CallLaunchKernelEx, family: "cuLaunchKernelEx", prog: progLaunchEx},
	{call: event.CallLaunchCooperativeKernel, family: "cuLaunchCooperativeKernel", prog: progLaunch},
	{call: event.CallGraphLaunch, family: "cuGraphLaunch", prog: progGraphLaunch},

	{call: event.CallStreamSynchronize, family: "cuStreamSynchronize", prog: progCall},
	{call: event.CallEventSynchronize, family: "cuEventSynchronize", prog: progCall},
	{call: event.CallCtxSynchronize, family: "cuCtxSynchronize", prog: progCall},
	{call: event.CallMemcpyDtoH, family: "cuMemcpyDtoH", noBase: true, prog: progCall},
	{call: event.CallMemcpyHtoD, family: "cuMemcpyHtoD", noBase: true, prog: progCall},

	{call: event.CallMemcpyAsync, family: "cuMemcpyAsync", prog: progCall},
	{call: event.CallMemcpyDtoHAsync, family: "cuMemcpyDtoHAsync", noBase: true, prog: progCall},
	{call: event.CallMemcpyHtoDAsync, family: "cuMemcpyHtoDAsync", noBase: true, prog: progCall},
	{call: event.CallEventRecord, family: "cuEventRecord", aliases: []string{"cuEventRecordWithFlags"}, prog: progCall},

	{call: event.CallMemAlloc, family: "cuMemAlloc", noBase: true, prog: progCall},
	{call: event.CallMemAllocAsync, family: "cuMemAllocAsync", prog: progCall},
	{call: event.CallMemFree, family: "cuMemFree", noBase: true, prog: progCall},
	{call: event.CallMemFreeAsync, family: "cuMemFreeAsync", prog: progCall},
	{call: event.CallMemCreate, family: "cuMemCreate", prog: progCall},
	{call: event.CallMemMap, family: "cuMemMap", prog: progCall},
	{call: event.CallMemRelease, family: "cuMemRelease", prog: progCall},

	{call: event.CallModuleGetFunction, family: "cuModuleGetFunction", prog: progCall},
	{call: event.CallLibraryGetKernel, family: "cuLibraryGetKernel", prog: progCall},
	{call: event.CallKernelGetFunction, family: "cuKernelGetFunction", prog: progCall},

	{call: event.CallStreamBeginCapture, family: "cuStreamBeginCapture", aliases: []string{"cuStreamBeginCaptureToGraph"}, prog: progCall},
	{call: event.CallStreamEndCapture, family: "cuStreamEndCapture", prog: progCall},
	{call: event.CallGraphInstantiate, family: "cuGraphInstantiate", aliases: []string{"cuGraphInstantiateWithFlags", "cuGraphInstantiateWithParams"}, prog: progCall},
}

// candidates lists every symbol name the table may attach, the want list for
// procfs.ELFSymbols.
func candidates() []string {
	var out []string
	for _, p := range probes {
		out = append(out, p.candidates()...)
	}
	return out
}

func (p probe) candidates() []string {
	c := procfs.Candidates(p.family, p.aliases...)
	if p.noBase {
		c = removeName(c, p.family)
	}
	return c
}

// variants lists the entry points of p that a library exporting syms has.
func (p probe) variants(syms map[string]uint64) []string {
	v := procfs.Variants(p.family, syms, p.aliases...)
	if p.noBase {
		v = removeName(v, p.family)
	}
	return v
}

func removeName(names []string, name string) []string {
	out := names[:0:0]
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// perThread reports whether the exported name is a per-thread default stream variant.
func perThread(symbol string) bool {
	return strings.Contains(symbol, "_ptsz") || strings.Contains(symbol, "_ptds")
}

// cookie is the attach cookie of symbol for call: the event.Call value, and
// COOKIE_PER_THREAD for _ptsz/_ptds variants (bpf/cuda.h).
func cookie(call event.Call, symbol string) uint64 {
	c := uint64(call)
	if perThread(symbol) {
		c |= uint64(cudaCookieFlagsCOOKIE_PER_THREAD)
	}
	return c
}

// programs returns the entry program and, for calls with a return probe, the return
// program of a kind.
func (o *cudaObjects) programs(k progKind) (entry, ret *ebpf.Program) {
	switch k {
	case progLaunch:
		return o.Launch, nil
	case progLaunchEx:
		return o.LaunchEx, nil
	case progGraphLaunch:
		return o.GraphLaunch, nil
	}
	return o.CallEnter, o.CallReturn
}
