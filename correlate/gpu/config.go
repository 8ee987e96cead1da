package gpustep

import (
	"fmt"
	"time"
)

// Config tunes a Tracker. The zero value gives the defaults.
type Config struct {
	// StallAfter is how long a wait must be in flight to be a stalled GPU (default 5 s).
	StallAfter time.Duration
	// DecodeEagerMax is the most eager kernel launches a step with graph launches may hold
	// and still be "decode" (default 0: graph launches only).
	DecodeEagerMax int
	// StepKernels is how many kernel names a Step lists; the rest are summed as "other"
	// (default 8).
	StepKernels int
	// KernelSlots is how many distinct kernel names are counted per process; launches of
	// names past it count as "other" (default 1024).
	KernelSlots int
	// WindowSteps is how many recent step intervals are kept per process for Window
	// (default 4096).
	WindowSteps int
	// NameCache is how many handle-to-name entries are kept per process, to name launches
	// the tracer left unnamed (default 65536).
	NameCache int
	// LiveAllocs is how many live allocations are tracked per process; an allocation past
	// it counts in AllocatedBytes and Untracked but not in CurrentBytes (default 1<<20).
	LiveAllocs int
}

// Defaults.
const (
	DefaultStallAfter  = 5 * time.Second
	DefaultStepKernels = 8
	DefaultKernelSlots = 1024
	DefaultWindowSteps = 4096
	DefaultNameCache   = 65536
	DefaultLiveAllocs  = 1 << 20
)

// withDefaults checks c and fills its zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.StallAfter < 0 {
		return c, fmt.Errorf("config: stall after %v is negative", c.StallAfter)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"decode eager max", &c.DecodeEagerMax, 0},
		{"step kernels", &c.StepKernels, DefaultStepKernels},
		{"kernel slots", &c.KernelSlots, DefaultKernelSlots},
		{"window steps", &c.WindowSteps, DefaultWindowSteps},
		{"name cache", &c.NameCache, DefaultNameCache},
		{"live allocs", &c.LiveAllocs, DefaultLiveAllocs},
	} {
		if *f.v < 0 {
			return c, fmt.Errorf("config: %s %d is negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.StallAfter == 0 {
		c.StallAfter = DefaultStallAfter
	}
	return c, nil
}
