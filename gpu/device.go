package gpu

import (
	"errors"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// reading gathers the errors of one device's sample and notices a lost GPU, after which
// nothing more is asked of it this time.
type reading struct {
	errs []error
	lost bool
}

// ok records err and reports whether the sample of the device may go on.
func (r *reading) ok(err error) bool {
	if err != nil {
		r.errs = append(r.errs, err)
		if errors.Is(err, nvml.ERROR_GPU_IS_LOST) {
			r.lost = true
		}
	}
	return !r.lost
}

// sampleDevice reads every value of one GPU, converted to base units.
func (s *Sampler) sampleDevice(d *dev) (Device, error) {
	var r reading
	if !r.ok(s.identify(d)) || d.h == nil {
		return Device{Index: d.index, UUID: d.uuid, Name: d.name}, errors.Join(r.errs...)
	}
	out := Device{Index: d.index, UUID: d.uuid, Name: d.name}
	h := d.h

	u, ok, err := read(d, fUtilization, "utilization", h.GetUtilizationRates)
	if ok {
		out.Utilization, out.MemoryUtilization = percent(u.Gpu), percent(u.Memory)
	}
	if !r.ok(err) {
		return out, errors.Join(r.errs...)
	}

	m, ok, err := read(d, fMemory, "memory", h.GetMemoryInfo)
	if ok {
		out.MemoryUsedBytes, out.MemoryTotalBytes, out.MemoryFreeBytes = ptr(m.Used), ptr(m.Total), ptr(m.Free)
	}
	if !r.ok(err) {
		return out, errors.Join(r.errs...)
	}

	// The unit conversions of single values: NVML unit -> base unit.
	scalars := []struct {
		f    field
		what string
		call func() (uint32, nvml.Return)
		conv func(uint32) *float64
		dst  **float64
	}{
		{fTemperature, "temperature", func() (uint32, nvml.Return) { return h.GetTemperature(nvml.TEMPERATURE_GPU) },
			func(v uint32) *float64 { return ptr(float64(v)) }, &out.TemperatureCelsius},
		{fPower, "power", h.GetPowerUsage, milli, &out.PowerWatts},
		{fPowerLimit, "power limit", h.GetEnforcedPowerLimit, milli, &out.PowerLimitWatts},
		{fSMClock, "sm clock", func() (uint32, nvml.Return) { return h.GetClockInfo(nvml.CLOCK_SM) }, mega, &out.SMClockHz},
		{fMemoryClock, "memory clock", func() (uint32, nvml.Return) { return h.GetClockInfo(nvml.CLOCK_MEM) }, mega, &out.MemoryClockHz},
	}
	for _, sc := range scalars {
		v, ok, err := read(d, sc.f, sc.what, sc.call)
		if ok {
			*sc.dst = sc.conv(v)
		}
		if !r.ok(err) {
			return out, errors.Join(r.errs...)
		}
	}

	reasons := h.GetCurrentClocksEventReasons
	if !s.eventReasons {
		reasons = h.GetCurrentClocksThrottleReasons // drivers before R535
	}
	t, ok, err := read(d, fThrottle, "throttle reasons", reasons)
	if ok {
		out.Throttle = ptr(ThrottleReasons(t))
	}
	if !r.ok(err) {
		return out, errors.Join(r.errs...)
	}

	eccs := []struct {
		f       field
		what    string
		kind    nvml.MemoryErrorType
		counter nvml.EccCounterType
		dst     **uint64
	}{
		{fECCVolatileCorrected, "ecc volatile corrected", nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.VOLATILE_ECC, &out.ECC.VolatileCorrected},
		{fECCVolatileUncorrected, "ecc volatile uncorrected", nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.VOLATILE_ECC, &out.ECC.VolatileUncorrected},
		{fECCAggregateCorrected, "ecc aggregate corrected", nvml.MEMORY_ERROR_TYPE_CORRECTED, nvml.AGGREGATE_ECC, &out.ECC.AggregateCorrected},
		{fECCAggregateUncorrected, "ecc aggregate uncorrected", nvml.MEMORY_ERROR_TYPE_UNCORRECTED, nvml.AGGREGATE_ECC, &out.ECC.AggregateUncorrected},
	}
	for _, e := range eccs {
		v, ok, err := read(d, e.f, e.what, func() (uint64, nvml.Return) { return h.GetTotalEccErrors(e.kind, e.counter) })
		if ok {
			*e.dst = ptr(v)
		}
		if !r.ok(err) {
			return out, errors.Join(r.errs...)
		}
	}

	ps, ok, err := read(d, fProcesses, "compute processes", h.GetComputeRunningProcesses)
	if ok {
		out.Processes, out.ProcessesKnown = processes(ps), true
	}
	r.ok(err)
	return out, errors.Join(r.errs...)
}
