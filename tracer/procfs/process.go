package procfs

import "fmt"

// Process is what discovery records of a process: a snapshot to build a serving unit
// and a Proc event from.
type Process struct {
	PID, PPID  int
	Comm       string
	Cgroup     string // as Cgroup returns it
	StartTicks uint64 // from stat, clock ticks since boot
	StartNS    uint64 // CLOCK_MONOTONIC ns, as StartNS converts StartTicks
	// Libcuda is the CUDA driver library the process maps; valid when HasLibcuda.
	Libcuda    Lib
	HasLibcuda bool
}

// Process reads pid's stat, cgroup and maps. When libcuda is mapped but cannot be opened
// from here, the error says so and the returned Process still holds everything else.
func (f FS) Process(pid int) (Process, error) {
	st, err := f.Stat(pid)
	if err != nil {
		return Process{}, err
	}
	cg, err := f.Cgroup(pid)
	if err != nil {
		return Process{}, err
	}
	suspend, err := SuspendNS()
	if err != nil {
		return Process{}, fmt.Errorf("start time of pid %d: %w", pid, err)
	}
	p := Process{
		PID: st.PID, PPID: st.PPID, Comm: st.Comm, Cgroup: cg,
		StartTicks: st.StartTicks, StartNS: StartNS(st.StartTicks, UserHZ, suspend),
	}
	p.Libcuda, p.HasLibcuda, err = f.FindLib(pid, IsLibcuda)
	return p, err
}
