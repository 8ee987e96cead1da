package tracer

import (
	"fmt"
	"strconv"
	"strings"
)

// LaunchMode says which kernel launches (cuLaunchKernel, cuLaunchKernelEx,
// cuLaunchCooperativeKernel) are recorded. Graph launches, waits and every other call are
// recorded in every mode: GPU steps need only those. The zero value records every launch.
type LaunchMode struct {
	// Off detaches the launch probes, so launches cost nothing.
	Off bool
	// Every records 1 launch in Every per CPU (0 or 1: every launch).
	Every uint32
}

// ParseLaunchMode reads "on", "off" or "sample:N" (N >= 1).
func ParseLaunchMode(s string) (LaunchMode, error) {
	switch s {
	case "on":
		return LaunchMode{}, nil
	case "off":
		return LaunchMode{Off: true}, nil
	}
	if n, ok := strings.CutPrefix(s, "sample:"); ok {
		v, err := strconv.ParseUint(n, 10, 32)
		if err != nil || v == 0 {
			return LaunchMode{}, fmt.Errorf("launch mode %q: sample:N needs a whole N >= 1", s)
		}
		return LaunchMode{Every: uint32(v)}, nil
	}
	return LaunchMode{}, fmt.Errorf("launch mode %q: want on, off or sample:N", s)
}

func (m LaunchMode) String() string {
	switch {
	case m.Off:
		return "off"
	case m.Every > 1:
		return "sample:" + strconv.FormatUint(uint64(m.Every), 10)
	}
	return "on"
}

// sample is the value of the kernel's launch_sample knob.
func (m LaunchMode) sample() uint32 {
	if m.Every > 1 {
		return m.Every
	}
	return 0
}
