package gpu

import (
	"errors"
	"time"
)

// ErrNoNVML means the host has no usable NVML: libnvidia-ml.so.1 is missing or the NVIDIA
// driver is not loaded. It is an expected condition: GPU health is off, the rest runs.
var ErrNoNVML = errors.New("gpu health off: NVML not found (no NVIDIA driver on this host)")

// Device is one sample of one GPU. A nil pointer (or a false ...Known flag) is a value the
// device does not report (NVML ERROR_NOT_SUPPORTED) or that could not be read this time.
type Device struct {
	Index int    // NVML device index
	UUID  string // "GPU-..."; "" when it could not be read
	Name  string // product name, e.g. "NVIDIA H100 80GB HBM3"

	// Utilization is the fraction of the last sample period (1/6 s to 1 s, by product)
	// during which one or more kernels ran on the GPU (nvmlUtilization_t.gpu / 100).
	Utilization *float64
	// MemoryUtilization is the fraction of the last sample period during which device
	// memory was being read or written: bandwidth busy time, not capacity
	// (nvmlUtilization_t.memory / 100).
	MemoryUtilization *float64

	MemoryUsedBytes  *uint64 // device memory allocated (nvmlMemory_t.used)
	MemoryTotalBytes *uint64 // installed device memory (nvmlMemory_t.total)
	MemoryFreeBytes  *uint64 // unallocated device memory (nvmlMemory_t.free)

	TemperatureCelsius *float64 // GPU core temperature
	PowerWatts         *float64 // board power draw (NVML reports milliwatts)
	PowerLimitWatts    *float64 // enforced power limit (NVML reports milliwatts)
	SMClockHz          *float64 // current SM clock (NVML reports MHz)
	MemoryClockHz      *float64 // current memory clock (NVML reports MHz)

	// Throttle holds the reasons the clocks are held below their maximum right now;
	// nil when the device does not report them.
	Throttle *ThrottleReasons

	// ECC error counts; nil fields where ECC is unsupported or disabled.
	ECC ECCCounts

	// Processes are the compute processes with a context on this GPU and the device
	// memory each uses. ProcessesKnown is false when the list could not be read.
	Processes      []Process
	ProcessesKnown bool
}

// ECCCounts are the GPU's ECC memory error counters. Volatile counts reset when the
// driver reloads; aggregate counts persist across reboots (kept in the inforom).
type ECCCounts struct {
	VolatileCorrected    *uint64
	VolatileUncorrected  *uint64
	AggregateCorrected   *uint64
	AggregateUncorrected *uint64
}

// Process is one compute process on a GPU.
type Process struct {
	PID uint32 // host pid namespace
	// UsedBytes is the device memory the process uses; nil when NVML cannot say (for
	// example without permission on the process, NVML_VALUE_NOT_AVAILABLE).
	UsedBytes *uint64
}

// XIDKey identifies one XID counter: a GPU index and an XID number. GPU is -1 when NVML
// did not say which device raised it.
type XIDKey struct {
	GPU int
	XID uint64
}

// XIDEvent is one XID critical error as NVML reported it.
type XIDEvent struct {
	GPU  int    // device index, -1 when unknown
	UUID string // device UUID as known when XID watching started, "" when unknown
	XID  uint64 // the XID number (see NVIDIA's XID catalogue; 79 = fallen off the bus)
	TS   uint64 // CLOCK_MONOTONIC ns when the agent received it
}

// Snapshot is the latest sample of every GPU, as the Poller keeps it for readers
// (collectors, the terminal view) that must never wait on NVML. Readers share it: they
// must not modify it.
type Snapshot struct {
	Time    time.Time         // when the sample was taken; zero before the first
	Devices []Device          // every GPU enumerated, in index order
	XIDs    map[XIDKey]uint64 // XID critical errors counted since the sampler started
	Err     error             // the last sample's error; Devices still hold what was read
	// Failures counts samples that returned an error since the poller started.
	Failures uint64
}

// Device returns the device with the given index in the snapshot.
func (s Snapshot) Device(index int) (Device, bool) {
	for _, d := range s.Devices {
		if d.Index == index {
			return d, true
		}
	}
	return Device{}, false
}
