//go:build !linux

package procfs

import (
	"fmt"
	"runtime"
)

// MonotonicNS reads CLOCK_MONOTONIC; only Linux has the clock procfs times are kept in.
func MonotonicNS() (uint64, error) {
	return 0, fmt.Errorf("clock_monotonic: unsupported on %s", runtime.GOOS)
}

// SuspendNS is CLOCK_BOOTTIME - CLOCK_MONOTONIC; only Linux has both clocks.
func SuspendNS() (uint64, error) {
	return 0, fmt.Errorf("clock_boottime: unsupported on %s", runtime.GOOS)
}
