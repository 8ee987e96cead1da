package fakecuda

import (
	"encoding/json"
	"fmt"
	"os"
)

// ReportCall is one driver call of a script's phase 2, as cudriver saw it. Times are
// CLOCK_MONOTONIC ns, taken just before and just after the call.
type ReportCall struct {
	Symbol  string `json:"symbol"` // the exported name called (dladdr of the pointer used)
	Call    string `json:"call"`   // its family, as in tracer/event (cuMemAlloc for cuMemAlloc_v2)
	Probed  bool   `json:"probed"` // the family is one the tracer probes
	Thread  int    `json:"thread"` // script thread: 0 legacy-stream table, 1 per-thread table
	TID     int    `json:"tid"`
	StartNS uint64 `json:"start_ns"`
	EndNS   uint64 `json:"end_ns"`
	Result  int32  `json:"result"` // the CUresult
	Stream  uint64 `json:"stream"` // the CUstream argument (0 legacy, 2 per-thread)
	// Handle is the object the call is about: the CUfunction or CUkernel of a launch or
	// lookup, the CUgraphExec of an instantiate or graph launch, the CUevent, the
	// allocation handle of cuMemMap/cuMemRelease.
	Handle uint64 `json:"handle"`
	// Out is what the call produced besides Handle: cuKernelGetFunction's CUfunction, an
	// allocation's device pointer, cuMemCreate's handle, cuStreamEndCapture's CUgraph.
	Out      uint64    `json:"out"`
	Kernel   string    `json:"kernel"` // kernel name of a launch or lookup
	Grid     [3]uint32 `json:"grid"`
	Block    [3]uint32 `json:"block"`
	Bytes    uint64    `json:"bytes"` // copy or allocation size
	Addr     uint64    `json:"addr"`  // device address of a copy, free or map
	Captured bool      `json:"captured"`
	// Class is how FAKECUDA_FAULT/STALL count the call: "wait", "launch", "alloc",
	// "copy" or "" (not counted); Seq is its 1-based index in the class, over the process.
	Class string `json:"class"`
	Seq   uint64 `json:"seq"`
	// CostNS is the GPU time a launch or async copy queued (a graph launch: the graph's).
	CostNS uint64 `json:"cost_ns"`
	// SimGPUNS is, for a wait, the simulated GPU time it waited for: the completion time
	// of the work it waited on minus StartNS, floored at 0 (an injected stall included).
	SimGPUNS uint64 `json:"sim_gpu_ns"`
	StallNS  uint64 `json:"stall_ns"` // injected by FAKECUDA_STALL
	// RunDelayNS is the time the calling thread spent runnable but not running during the
	// call (/proc/thread-self/schedstat): what a loaded machine adds to a wait.
	RunDelayNS uint64 `json:"run_delay_ns"`
}

// DurationNS is EndNS - StartNS.
func (c ReportCall) DurationNS() uint64 { return c.EndNS - c.StartNS }

// ReadReport reads a script report.
func ReadReport(path string) ([]ReportCall, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var calls []ReportCall
	if err := json.Unmarshal(b, &calls); err != nil {
		return nil, fmt.Errorf("parse report %s: %w", path, err)
	}
	return calls, nil
}

// LoopSummary is what `cudriver loop` writes when given a summary path.
type LoopSummary struct {
	PID   int               `json:"pid"`
	TID   int               `json:"tid"`
	Steps uint64            `json:"steps"`
	Calls map[string]uint64 `json:"calls"` // by exported symbol
}

// ReadLoopSummary reads a loop summary.
func ReadLoopSummary(path string) (LoopSummary, error) {
	var s LoopSummary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("parse loop summary %s: %w", path, err)
	}
	return s, nil
}

// ScriptSymbols is the exported symbol of every call each script thread makes in
// phase 2, in order (cudriver_script.c). Thread 0 calls through dlsym'd legacy-stream
// symbols, thread 1 through cuGetProcAddress_v2's per-thread ones.
var ScriptSymbols = [2][]string{
	{
		"cuCtxSetCurrent", "cuModuleGetFunction", "cuLibraryGetKernel", "cuKernelGetFunction",
		"cuEventCreate", "cuMemAlloc_v2", "cuMemAllocAsync", "cuMemcpyHtoD_v2",
		"cuLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel",
		"cuMemcpyHtoDAsync_v2", "cuMemcpyAsync", "cuEventRecord", "cuEventSynchronize",
		"cuStreamBeginCapture_v2", "cuLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx",
		"cuStreamEndCapture", "cuGraphInstantiateWithFlags",
		"cuGraphLaunch", "cuGraphLaunch", "cuGraphLaunch", "cuStreamSynchronize",
		"cuMemcpyDtoHAsync_v2", "cuStreamSynchronize", "cuMemcpyDtoH_v2",
		"cuLaunchKernel", "cuStreamSynchronize",
		"cuMemAlloc_v2",
		"cuMemFreeAsync", "cuMemFree_v2", "cuCtxSynchronize",
		"cuGraphExecDestroy", "cuGraphDestroy", "cuEventDestroy_v2",
	},
	{
		"cuCtxSetCurrent", "cuModuleGetFunction", "cuLibraryGetKernel", "cuKernelGetFunction",
		"cuModuleGetFunction",
		"cuEventCreate", "cuMemAlloc_v2", "cuMemAllocAsync_ptsz", "cuMemcpyHtoD_v2_ptds",
		"cuLaunchKernel_ptsz", "cuLaunchKernel_ptsz", "cuLaunchKernelEx_ptsz", "cuLaunchCooperativeKernel_ptsz",
		"cuMemcpyHtoDAsync_v2_ptsz", "cuMemcpyAsync_ptsz", "cuEventRecord_ptsz", "cuEventSynchronize",
		"cuStreamBeginCapture_v2_ptsz", "cuLaunchKernel_ptsz", "cuLaunchKernel_ptsz", "cuLaunchKernelEx_ptsz",
		"cuStreamEndCapture_ptsz", "cuGraphInstantiateWithFlags",
		"cuGraphLaunch_ptsz", "cuGraphLaunch_ptsz", "cuGraphLaunch_ptsz", "cuStreamSynchronize_ptsz",
		"cuMemcpyDtoHAsync_v2_ptsz", "cuStreamSynchronize_ptsz", "cuMemcpyDtoH_v2_ptds",
		"cuLaunchKernel_ptsz", "cuStreamSynchronize_ptsz",
		"cuMemGetAllocationGranularity", "cuMemCreate", "cuMemAddressReserve", "cuMemMap",
		"cuMemUnmap", "cuMemRelease", "cuMemAddressFree",
		"cuMemFreeAsync_ptsz", "cuMemFree_v2", "cuCtxSynchronize",
		"cuGraphExecDestroy", "cuGraphDestroy", "cuEventDestroy_v2",
	},
}
