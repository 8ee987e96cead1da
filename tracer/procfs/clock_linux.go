package procfs

import (
	"fmt"
	"syscall"
	"unsafe"
)

// Clock ids from <linux/time.h>; package syscall has no names for them.
const (
	clockMonotonic = 1 // CLOCK_MONOTONIC
	clockBoottime  = 7 // CLOCK_BOOTTIME
)

func clockNS(id uintptr) (int64, error) {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, fmt.Errorf("clock_gettime(%d): %w", id, errno)
	}
	return ts.Nano(), nil
}

// MonotonicNS reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func MonotonicNS() (uint64, error) {
	ns, err := clockNS(clockMonotonic)
	return uint64(ns), err
}

// SuspendNS returns how long the machine has been suspended since boot:
// CLOCK_BOOTTIME - CLOCK_MONOTONIC. BOOTTIME is read between two MONOTONIC reads and
// compared with their midpoint, so the time the reads take cancels out.
func SuspendNS() (uint64, error) {
	m1, err := clockNS(clockMonotonic)
	if err != nil {
		return 0, err
	}
	boot, err := clockNS(clockBoottime)
	if err != nil {
		return 0, err
	}
	m2, err := clockNS(clockMonotonic)
	if err != nil {
		return 0, err
	}
	if mid := m1 + (m2-m1)/2; boot > mid {
		return uint64(boot - mid), nil
	}
	return 0, nil
}
