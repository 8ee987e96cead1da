package fakecuda

import (
	"fmt"
	"strconv"
	"strings"
)

// BuiltinCosts are the kernel costs before FAKECUDA_COST (config.c builtin_costs; a test
// checks they agree): 4 us + 20 ns per block for any kernel, nothing for fakecuda_noop.
const BuiltinCosts = "*=4000:20,fakecuda_noop=0:0"

// DefaultCopyGBPS is the copy bandwidth without FAKECUDA_COPY_GBPS.
const DefaultCopyGBPS = 25.0

// Cost is a kernel's cost: BaseNS + PerBlockNS * gridX*gridY*gridZ.
type Cost struct {
	BaseNS, PerBlockNS uint64
}

// CostModel is the simulated device's cost model, as the C side reads it.
type CostModel struct {
	Default Cost
	Kernels map[string]Cost
}

// ParseCostModel applies spec (FAKECUDA_COST's "name=base:per,..." with "*" for the
// default) over BuiltinCosts.
func ParseCostModel(spec string) (CostModel, error) {
	m := CostModel{Kernels: map[string]Cost{}}
	for _, s := range []string{BuiltinCosts, spec} {
		for _, e := range strings.Split(s, ",") {
			e = strings.TrimLeft(e, " ")
			if e == "" {
				continue
			}
			i := strings.LastIndex(e, "=")
			if i <= 0 {
				return m, fmt.Errorf("cost %q: want name=base_ns:per_block_ns", e)
			}
			base, per, ok := strings.Cut(e[i+1:], ":")
			if !ok {
				return m, fmt.Errorf("cost %q: want name=base_ns:per_block_ns", e)
			}
			var c Cost
			var err error
			if c.BaseNS, err = strconv.ParseUint(base, 10, 64); err == nil {
				c.PerBlockNS, err = strconv.ParseUint(per, 10, 64)
			}
			if err != nil {
				return m, fmt.Errorf("cost %q: costs are integer nanoseconds: %w", e, err)
			}
			if name := e[:i]; name == "*" {
				m.Default = c
			} else {
				m.Kernels[name] = c
			}
		}
	}
	return m, nil
}

// KernelNS is the GPU time of one launch of kernel over grid.
func (m CostModel) KernelNS(kernel string, grid [3]uint32) uint64 {
	c, ok := m.Kernels[kernel]
	if !ok {
		c = m.Default
	}
	return c.BaseNS + c.PerBlockNS*uint64(grid[0])*uint64(grid[1])*uint64(grid[2])
}

// CopyNS is the GPU time of a copy of n bytes at gbps GB/s.
func CopyNS(n uint64, gbps float64) uint64 { return uint64(float64(n) / gbps) }
