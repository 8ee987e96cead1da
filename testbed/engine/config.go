package engine

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// Wait modes: how a step waits for the GPU after queuing its copy of the sampled tokens.
const (
	WaitEvent  = "event"  // cuMemcpyDtoHAsync_v2 + cuEventRecord + cuEventSynchronize (PyTorch's non_blocking copy + event)
	WaitStream = "stream" // cuMemcpyDtoHAsync_v2 + cuStreamSynchronize
	WaitCopy   = "copy"   // a blocking cuMemcpyDtoH_v2
)

// Config is everything the engine core needs. Flags registers it on a flag set; Args
// renders it back, for a process that starts an engine-core or a worker.
type Config struct {
	SchedConfig

	Workers   int    // tensor-parallel worker processes; 1: the core drives the GPU itself
	WaitMode  string // WaitEvent, WaitStream or WaitCopy
	Lib       string // libcuda.so.1 to dlopen: a file, a directory, or "" for the loader's search
	PerThread bool   // call the _ptsz variants (a build with --default-stream per-thread)

	TruthPath string // append one JSON line per step here ("" for none)

	Layers int   // transformer layers: 4 eager launches each in a prefill-like step
	Cost   Costs // GPU time of a step, turned into FAKECUDA_COST for the engine's kernels

	WeightsBytes int64 // cuMemAlloc_v2'd at start-up, split over Layers (and over workers)
	KVCacheBytes int64 // likewise, after the weights

	FaultRate float64 // fraction of requests failed with 500 when first scheduled
	Seed      int64   // seeds the fault draw

	// WorkerCommand is the argv prefix that starts a worker process ("testbed worker" by
	// default: this executable with the worker subcommand). Tests set their own.
	WorkerCommand []string
}

// Costs is the simulated GPU time of a step. A prefill-like step of T tokens costs
// Base + T*PrefillToken; a decode step of B requests (padded up to its graph's size) costs
// Base + B*DecodeSeq. Each is split over Layers x 4 kernels (see kernels.go).
type Costs struct {
	Base         time.Duration
	PrefillToken time.Duration
	DecodeSeq    time.Duration
}

// DefaultConfig is vLLM's scheduler defaults and a 7-8B model in bf16 on one H100-class
// GPU, rounded: a decode step costs 12 ms (reading the weights) + 110 us per request
// (19 ms at batch 64, 12.1 ms at batch 1); a prefill-like step 12 ms + 40 us per token
// (32.5 ms for 512 tokens, so a step that admits one 128-token prompt beside 63 decodes
// costs about what a decode step of 64 does).
func DefaultConfig() Config {
	return Config{
		SchedConfig: SchedConfig{
			MaxNumSeqs:          256,
			MaxNumBatchedTokens: 8192,
			MaxWaiting:          1024,
			MaxModelLen:         4096,
		},
		Workers:      1,
		WaitMode:     WaitEvent,
		Layers:       32,
		Cost:         Costs{Base: 12 * time.Millisecond, PrefillToken: 40 * time.Microsecond, DecodeSeq: 110 * time.Microsecond},
		WeightsBytes: 15 << 30,
		KVCacheBytes: 48 << 30,
	}
}

// Flags registers the engine's flags on fs, with DefaultConfig's values, and returns the
// Config they fill in when fs is parsed. A front end that runs the core in-process
// (testbed engine --procs 1) registers these next to its own; --truth and --max-model-len
// are then its to read as well.
func Flags(fs *pflag.FlagSet) *Config {
	c := DefaultConfig()
	fs.IntVar(&c.MaxNumSeqs, "max-num-seqs", c.MaxNumSeqs, "most requests running in one step")
	fs.IntVar(&c.MaxNumBatchedTokens, "max-num-batched-tokens", c.MaxNumBatchedTokens, "token budget of one step")
	fs.IntVar(&c.MaxWaiting, "max-waiting", c.MaxWaiting, "most requests waiting; more get 429 (0: no limit)")
	fs.IntVar(&c.MaxModelLen, "max-model-len", c.MaxModelLen, "context length: prompt + max_tokens past it gets 400")
	fs.BoolVar(&c.ChunkedPrefill, "enable-chunked-prefill", c.ChunkedPrefill, "split long prompts over steps, batched with decodes")
	fs.IntVar(&c.Workers, "workers", c.Workers, "tensor-parallel worker processes, each driving its own GPU (1: the core drives it)")
	fs.StringVar(&c.WaitMode, "wait-mode", c.WaitMode, "how a step waits for the GPU: event, stream or copy")
	fs.StringVar(&c.Lib, "lib", c.Lib, "libcuda.so.1 to load: a file or a directory (default: the loader's search path)")
	fs.BoolVar(&c.PerThread, "ptsz", c.PerThread, "call the per-thread-stream (_ptsz) variants of the driver API")
	fs.StringVar(&c.TruthPath, "truth", c.TruthPath, "append ground-truth JSON lines to this file")
	fs.IntVar(&c.Layers, "layers", c.Layers, "transformer layers (4 kernel launches each in a prefill step)")
	fs.DurationVar(&c.Cost.Base, "cost.base", c.Cost.Base, "GPU time of every step, whatever its size")
	fs.DurationVar(&c.Cost.PrefillToken, "cost.prefill-token", c.Cost.PrefillToken, "GPU time per token of a prefill or mixed step")
	fs.DurationVar(&c.Cost.DecodeSeq, "cost.decode-seq", c.Cost.DecodeSeq, "GPU time per request (padded to the graph size) of a decode step")
	fs.Int64Var(&c.WeightsBytes, "mem.weights-bytes", c.WeightsBytes, "device memory for the weights, allocated at start-up")
	fs.Int64Var(&c.KVCacheBytes, "mem.kv-cache-bytes", c.KVCacheBytes, "device memory for the KV cache, allocated at start-up")
	fs.Float64Var(&c.FaultRate, "fault-rate", c.FaultRate, "fraction of requests that fail with 500 when first scheduled")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed of the fault draw")
	return &c
}

// Args renders c as the flags Flags parses, so a parent can start an engine-core or
// worker process with the same configuration.
func (c *Config) Args() []string {
	d := func(v time.Duration) string { return v.String() }
	a := []string{
		"--max-num-seqs=" + strconv.Itoa(c.MaxNumSeqs),
		"--max-num-batched-tokens=" + strconv.Itoa(c.MaxNumBatchedTokens),
		"--max-waiting=" + strconv.Itoa(c.MaxWaiting),
		"--max-model-len=" + strconv.Itoa(c.MaxModelLen),
		"--enable-chunked-prefill=" + strconv.FormatBool(c.ChunkedPrefill),
		"--workers=" + strconv.Itoa(c.Workers),
		"--wait-mode=" + c.WaitMode,
		"--ptsz=" + strconv.FormatBool(c.PerThread),
		"--layers=" + strconv.Itoa(c.Layers),
		"--cost.base=" + d(c.Cost.Base),
		"--cost.prefill-token=" + d(c.Cost.PrefillToken),
		"--cost.decode-seq=" + d(c.Cost.DecodeSeq),
		"--mem.weights-bytes=" + strconv.FormatInt(c.WeightsBytes, 10),
		"--mem.kv-cache-bytes=" + strconv.FormatInt(c.KVCacheBytes, 10),
		"--fault-rate=" + strconv.FormatFloat(c.FaultRate, 'g', -1, 64),
		"--seed=" + strconv.FormatInt(c.Seed, 10),
	}
	if c.Lib != "" {
		a = append(a, "--lib="+c.Lib)
	}
	if c.TruthPath != "" {
		a = append(a, "--truth="+c.TruthPath)
	}
	return a
}

// Validate checks c and says what is wrong.
func (c *Config) Validate() error {
	if err := c.SchedConfig.validate(); err != nil {
		return err
	}
	switch {
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("workers %d: want 1 to 64", c.Workers)
	case c.WaitMode != WaitEvent && c.WaitMode != WaitStream && c.WaitMode != WaitCopy:
		return fmt.Errorf("wait-mode %q: want event, stream or copy", c.WaitMode)
	case c.Layers < 1 || c.Layers > 1024:
		return fmt.Errorf("layers %d: want 1 to 1024", c.Layers)
	case c.Cost.Base < 0 || c.Cost.PrefillToken < 0 || c.Cost.DecodeSeq < 0:
		return fmt.Errorf("costs must not be negative")
	case c.WeightsBytes < 0 || c.KVCacheBytes < 0:
		return fmt.Errorf("memory sizes must not be negative")
	case c.FaultRate < 0 || c.FaultRate > 1:
		return fmt.Errorf("fault-rate %g: want 0 to 1", c.FaultRate)
	case c.MaxNumSeqs > 4096:
		return fmt.Errorf("max-num-seqs %d: want at most 4096 (one graph is captured per size)", c.MaxNumSeqs)
	}
	return nil
}
