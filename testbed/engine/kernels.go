package engine

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// kernel is one of a layer's launches.
type kernel struct {
	name      string
	block     uint32  // threads per block (blockDim.x)
	baseShare float64 // share of Costs.Base
	unitShare float64 // share of Costs.PrefillToken or Costs.DecodeSeq, one block per token or request
}

// The layer's kernels, as vLLM's nsys profiles name them. Prefill-like steps launch
// prefillKernels eagerly with one block per token; decode graphs capture decodeKernels
// with one block per (padded) request: cuBLAS picks split-K GEMMs and flash-attention
// its split-KV kernel for a few rows, so the decode set has its own names and costs.
var (
	prefillKernels = [...]kernel{
		{"rms_norm_kernel", 128, 0.05, 0},
		{"ampere_bf16_s16816gemm_qkv", 256, 0.30, 0.30},
		{"flash_fwd_kernel", 128, 0.20, 0.20},
		{"ampere_bf16_s16816gemm_mlp", 256, 0.45, 0.50},
	}
	decodeKernels = [...]kernel{
		{"rms_norm_kernel", 128, 0.05, 0},
		{"ampere_bf16_s16816gemm_qkv_splitk", 256, 0.30, 0.30},
		{"flash_fwd_splitkv_kernel", 128, 0.20, 0.20},
		{"ampere_bf16_s16816gemm_mlp_splitk", 256, 0.45, 0.50},
	}
)

// kernelCost is one kernel's cost entry in the simulated driver's terms.
type kernelCost struct {
	name          string
	baseNS, perNS uint64
}

// kernelCosts turns c into per-kernel costs over layers: what FAKECUDA_COST gets.
func kernelCosts(c Costs, layers int) []kernelCost {
	per := func(d time.Duration, share float64) uint64 {
		return uint64(math.Round(float64(d.Nanoseconds()) * share / float64(layers)))
	}
	var out []kernelCost
	seen := map[string]bool{}
	add := func(ks []kernel, unit time.Duration) {
		for _, k := range ks {
			if seen[k.name] {
				continue
			}
			seen[k.name] = true
			out = append(out, kernelCost{k.name, per(c.Base, k.baseShare), per(unit, k.unitShare)})
		}
	}
	add(prefillKernels[:], c.PrefillToken)
	add(decodeKernels[:], c.DecodeSeq)
	return out
}

// CostEnv is the FAKECUDA_COST value that gives the engine's kernels the costs of c,
// followed by user (an existing FAKECUDA_COST, whose entries win, as later ones do).
func CostEnv(c Costs, layers int, user string) string {
	var b strings.Builder
	for i, k := range kernelCosts(c, layers) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d:%d", k.name, k.baseNS, k.perNS)
	}
	if user != "" {
		b.WriteByte(',')
		b.WriteString(user)
	}
	return b.String()
}

// StepCost is the simulated GPU time of a step as the driver computes it from CostEnv's
// integer entries: prefill-like with n tokens, or decode with n (padded) requests.
func StepCost(c Costs, layers int, prefillLike bool, n int) time.Duration {
	costs := map[string]kernelCost{}
	for _, k := range kernelCosts(c, layers) {
		costs[k.name] = k
	}
	ks := decodeKernels[:]
	if prefillLike {
		ks = prefillKernels[:]
	}
	var ns uint64
	for _, k := range ks {
		kc := costs[k.name]
		ns += kc.baseNS + kc.perNS*uint64(n)
	}
	return time.Duration(ns * uint64(layers))
}

// captureSizes are the batch sizes with a decode graph, as vLLM picks them: 1, 2, 4, then
// every multiple of 8 up to max-num-seqs, and max-num-seqs itself.
func captureSizes(maxNumSeqs int) []int {
	var s []int
	for _, b := range []int{1, 2, 4} {
		if b <= maxNumSeqs {
			s = append(s, b)
		}
	}
	for b := 8; b <= maxNumSeqs; b += 8 {
		s = append(s, b)
	}
	if s[len(s)-1] != maxNumSeqs {
		s = append(s, maxNumSeqs)
	}
	return s
}

// padTo is the smallest capture size holding n requests (sizes ascending; n at most the last).
func padTo(sizes []int, n int) int {
	for _, s := range sizes {
		if s >= n {
			return s
		}
	}
	return sizes[len(sizes)-1]
}
