package procfs

// UserHZ is USER_HZ, the unit of the clock ticks in /proc/PID/stat (what
// sysconf(_SC_CLK_TCK) returns). It is part of the Linux ABI and 100 on every
// architecture the agent runs on, whatever CONFIG_HZ the kernel was built with.
const UserHZ = 100

// TicksToNS converts clock ticks at hz per second to nanoseconds, without overflow for
// any uptime.
func TicksToNS(ticks, hz uint64) uint64 {
	if hz == 0 {
		return 0
	}
	return ticks/hz*1e9 + ticks%hz*1e9/hz
}

// StartNS converts a stat start time to CLOCK_MONOTONIC nanoseconds, the clock of every
// event (bpf_ktime_get_ns).
//
// The kernel reports start times against CLOCK_BOOTTIME, which keeps counting while the
// machine is suspended; CLOCK_MONOTONIC does not. suspendNS is the time spent suspended
// (BOOTTIME - MONOTONIC, see SuspendNS), subtracted here. The result is exact when no
// suspend happened after the process started (a server that never suspends has
// suspendNS 0); a suspend after the start makes it early by that suspend's length.
// The resolution is one tick (10 ms at UserHZ). A result below zero clamps to 0.
func StartNS(startTicks, hz, suspendNS uint64) uint64 {
	boot := TicksToNS(startTicks, hz)
	if boot < suspendNS {
		return 0
	}
	return boot - suspendNS
}
