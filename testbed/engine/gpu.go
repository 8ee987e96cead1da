package engine

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/testbed/cuda"
)

// stepSpec is what a GPU runs for one step; the core sends it to each worker.
type stepSpec struct {
	Index   uint64 `json:"index"`
	Prefill bool   `json:"prefill"` // prefill-like: eager launches; else one graph launch
	Tokens  int    `json:"tokens"`  // tokens processed: the eager kernels' grid
	Seqs    int    `json:"seqs"`    // requests in the step: sampled, copied back, the graph's batch
}

// scratchEvery is how often (in steps) a step allocates and frees a scratch buffer, as
// PyTorch's caching allocator does now and then when a step needs memory it has not cached.
const scratchEvery = 32

// gpu is one simulated GPU driven from the calling OS thread: the model's weights and KV
// cache, its kernels, and a decode graph per capture size. Not safe for concurrent use;
// every method must run on the thread that called openGPU.
type gpu struct {
	lib     *cuda.Lib
	cfg     Config
	ctx     cuda.Context
	stream  cuda.Stream
	event   cuda.Event
	module  cuda.Module
	prefill [len(prefillKernels)]cuda.Function
	sizes   []int                  // capture sizes, ascending
	graphs  map[int]cuda.GraphExec // by capture size
	rawGrs  []cuda.Graph
	allocs  []cuda.DevicePtr // weights and KV cache
	input   cuda.DevicePtr   // token ids in
	sampled cuda.DevicePtr   // token ids out
	hostIn  *cuda.HostBuf
	hostOut *cuda.HostBuf
	eager   []cuda.Launch // Layers x prefill kernels, grids set per step
	pid     int
	tid     int
}

// openGPU loads the driver and prepares a GPU for cfg, holding 1/world of the weights
// and KV cache. It sets FAKECUDA_COST from cfg.Cost first (a simulated driver reads it
// at its first cuInit in the process, so in one process the first engine's costs hold).
func openGPU(cfg Config, world int) (*gpu, error) {
	if err := os.Setenv("FAKECUDA_COST", CostEnv(cfg.Cost, cfg.Layers, userCostEnv())); err != nil {
		return nil, fmt.Errorf("set FAKECUDA_COST: %w", err)
	}
	lib, err := cuda.Open(cfg.Lib)
	if err != nil {
		return nil, err
	}
	g := &gpu{lib: lib, cfg: cfg, graphs: map[int]cuda.GraphExec{}, pid: os.Getpid(), tid: unix.Gettid()}
	if err := g.prepare(world); err != nil {
		g.close() // give back what was taken: the driver and its memory outlive this engine
		return nil, err
	}
	return g, nil
}

func (g *gpu) prepare(world int) error {
	if g.cfg.PerThread {
		if err := g.lib.UsePerThreadStream(); err != nil {
			return err
		}
	}
	if err := g.initDevice(); err != nil {
		return err
	}
	if err := g.allocate(world); err != nil {
		return err
	}
	if err := g.loadKernels(); err != nil {
		return err
	}
	return g.captureGraphs()
}

// userCostEnv is FAKECUDA_COST as the user set it, without what an earlier openGPU in
// this process put in front of it.
var userCost = struct {
	set bool
	val string
}{}

func userCostEnv() string {
	if !userCost.set {
		userCost.set, userCost.val = true, os.Getenv("FAKECUDA_COST")
	}
	return userCost.val
}

func (g *gpu) initDevice() error {
	if err := g.lib.Init(0); err != nil {
		return err
	}
	dev, err := g.lib.DeviceGet(0)
	if err != nil {
		return err
	}
	if g.ctx, err = g.lib.PrimaryCtxRetain(dev); err != nil {
		return err
	}
	if err := g.lib.CtxSetCurrent(g.ctx); err != nil {
		return err
	}
	// A blocking stream, so a blocking copy on the legacy stream (wait-mode copy) waits for it.
	if g.stream, err = g.lib.StreamCreate(0); err != nil {
		return err
	}
	const eventDisableTiming = 0x2 // what torch.cuda.Event() creates
	g.event, err = g.lib.EventCreate(eventDisableTiming)
	return err
}

// allocate takes the weights and the KV cache, one buffer per layer each (as a model's
// parameters and per-layer KV tensors are), and the step's input and output buffers.
func (g *gpu) allocate(world int) error {
	L := int64(g.cfg.Layers)
	for _, total := range []int64{g.cfg.WeightsBytes, g.cfg.KVCacheBytes} {
		per := total / int64(world) / L
		if per == 0 {
			continue
		}
		for range L {
			p, err := g.lib.MemAlloc(uint64(per))
			if err != nil {
				return err
			}
			g.allocs = append(g.allocs, p)
		}
	}
	var err error
	if g.input, err = g.lib.MemAlloc(uint64(4 * g.cfg.MaxNumBatchedTokens)); err != nil {
		return err
	}
	if g.sampled, err = g.lib.MemAlloc(uint64(4 * g.cfg.MaxNumSeqs)); err != nil {
		return err
	}
	g.hostIn = cuda.NewHostBuf(4 * g.cfg.MaxNumBatchedTokens)
	g.hostOut = cuda.NewHostBuf(4 * g.cfg.MaxNumSeqs)
	return nil
}

// loadKernels loads the model's module and looks every kernel up once by name.
func (g *gpu) loadKernels() error {
	var names []string
	for _, k := range prefillKernels {
		names = append(names, k.name)
	}
	for _, k := range decodeKernels {
		names = append(names, k.name)
	}
	var err error
	if g.module, err = g.lib.ModuleLoadData([]byte(strings.Join(names, "\n"))); err != nil {
		return err
	}
	for i, k := range prefillKernels {
		if g.prefill[i], err = g.lib.ModuleGetFunction(g.module, k.name); err != nil {
			return err
		}
	}
	g.eager = make([]cuda.Launch, 0, g.cfg.Layers*len(prefillKernels))
	for range g.cfg.Layers {
		for i, k := range prefillKernels {
			g.eager = append(g.eager, cuda.Launch{Func: g.prefill[i], GridY: 1, GridZ: 1, BlockX: k.block, BlockY: 1, BlockZ: 1})
		}
	}
	return nil
}

// captureGraphs captures one decode graph per capture size, largest first as vLLM does:
// cuStreamBeginCapture_v2, the layers' decode kernels with one block per request,
// cuStreamEndCapture, cuGraphInstantiateWithFlags.
func (g *gpu) captureGraphs() error {
	var fns [len(decodeKernels)]cuda.Function
	for i, k := range decodeKernels {
		var err error
		if fns[i], err = g.lib.ModuleGetFunction(g.module, k.name); err != nil {
			return err
		}
	}
	g.sizes = captureSizes(g.cfg.MaxNumSeqs)
	ls := make([]cuda.Launch, 0, g.cfg.Layers*len(decodeKernels))
	for i := len(g.sizes) - 1; i >= 0; i-- {
		b := g.sizes[i]
		ls = ls[:0]
		for range g.cfg.Layers {
			for j, k := range decodeKernels {
				ls = append(ls, cuda.Launch{Func: fns[j], GridX: uint32(b), GridY: 1, GridZ: 1, BlockX: k.block, BlockY: 1, BlockZ: 1})
			}
		}
		if err := g.lib.StreamBeginCapture(g.stream, cuda.CaptureThreadLocal); err != nil {
			return fmt.Errorf("capture batch %d: %w", b, err)
		}
		if err := g.lib.LaunchKernels(ls, g.stream); err != nil {
			_, _ = g.lib.StreamEndCapture(g.stream)
			return fmt.Errorf("capture batch %d: %w", b, err)
		}
		gr, err := g.lib.StreamEndCapture(g.stream)
		if err != nil {
			return fmt.Errorf("capture batch %d: %w", b, err)
		}
		g.rawGrs = append(g.rawGrs, gr)
		if g.graphs[b], err = g.lib.GraphInstantiate(gr, 0); err != nil {
			return fmt.Errorf("capture batch %d: %w", b, err)
		}
	}
	return nil
}

// run executes one step and returns when its wait returned: the input copy, then (from
// startNS, CLOCK_MONOTONIC read in C just before the first launch) the eager kernels or
// the decode graph, then the copy of the sampled ids to the host and the wait of
// cfg.WaitMode (endNS: read in C the moment the wait returned).
func (g *gpu) run(s stepSpec) (startNS, endNS uint64, err error) {
	if s.Tokens < 1 || s.Tokens > g.cfg.MaxNumBatchedTokens || s.Seqs < 1 || s.Seqs > g.cfg.MaxNumSeqs {
		return 0, 0, fmt.Errorf("step %d: %d tokens of %d requests is out of range", s.Index, s.Tokens, s.Seqs)
	}
	var scratch cuda.DevicePtr
	if s.Index%scratchEvery == 0 {
		if scratch, err = g.lib.MemAlloc(uint64(s.Tokens) << 13); err != nil {
			return 0, 0, err
		}
		defer func() {
			if ferr := g.lib.MemFree(scratch); ferr != nil && err == nil {
				err = ferr
			}
		}()
	}
	if err := g.lib.MemcpyHtoDAsync(g.input, g.hostIn, 4*s.Tokens, g.stream); err != nil {
		return 0, 0, err
	}
	if s.Prefill {
		for i := range g.eager {
			g.eager[i].GridX = uint32(s.Tokens)
		}
		startNS, err = g.lib.LaunchKernelsAt(g.eager, g.stream)
	} else {
		startNS, err = g.lib.GraphLaunchAt(g.graphs[padTo(g.sizes, s.Seqs)], g.stream)
	}
	if err != nil {
		return startNS, now(), err
	}
	n := 4 * s.Seqs
	switch g.cfg.WaitMode {
	case WaitCopy:
		endNS, err = g.lib.MemcpyDtoHAt(g.hostOut, g.sampled, n)
	case WaitStream:
		if err = g.lib.MemcpyDtoHAsync(g.hostOut, g.sampled, n, g.stream); err == nil {
			endNS, err = g.lib.StreamSynchronizeAt(g.stream)
		}
	default:
		if err = g.lib.MemcpyDtoHAsync(g.hostOut, g.sampled, n, g.stream); err == nil {
			if err = g.lib.EventRecord(g.event, g.stream); err == nil {
				endNS, err = g.lib.EventSynchronizeAt(g.event)
			}
		}
	}
	if endNS == 0 {
		endNS = now()
	}
	return startNS, endNS, err
}

// close frees what openGPU took, best effort. The driver stays loaded for the life of
// the process, as it does under PyTorch.
func (g *gpu) close() {
	if g == nil || g.lib == nil {
		return
	}
	// Errors are ignored: a context dead of a sticky fault refuses every call, and there
	// is nothing to do about a driver that will not free.
	for _, e := range g.graphs {
		_ = g.lib.GraphExecDestroy(e)
	}
	for _, gr := range g.rawGrs {
		_ = g.lib.GraphDestroy(gr)
	}
	for _, p := range append(g.allocs, g.input, g.sampled) {
		if p != 0 {
			_ = g.lib.MemFree(p)
		}
	}
	if g.module != 0 {
		_ = g.lib.ModuleUnload(g.module)
	}
	if g.event != 0 {
		_ = g.lib.EventDestroy(g.event)
	}
	if g.stream != 0 {
		_ = g.lib.StreamDestroy(g.stream)
	}
	g.hostIn.Free()
	g.hostOut.Free()
	g.graphs, g.rawGrs, g.allocs = nil, nil, nil
}

// now is CLOCK_MONOTONIC in nanoseconds, the clock of every timestamp here.
func now() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Sec)*1e9 + uint64(ts.Nsec)
}
