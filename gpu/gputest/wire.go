package gputest

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// wire sets the device methods the gpu package reads to answer from figs[i].
func (s *Server) wire(i int, d *server.Device) {
	// get returns a copy of the figures and the code injected for method, if any.
	get := func(method string) (Figures, nvml.Return) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f := s.figs[i]
		if r, ok := f.Fail[method]; ok {
			return f, r
		}
		return f, nvml.SUCCESS
	}
	uuid, name := d.GetUUIDFunc, d.GetNameFunc
	d.GetUUIDFunc = func() (string, nvml.Return) {
		if _, r := get("GetUUID"); r != nvml.SUCCESS {
			return "", r
		}
		return uuid()
	}
	d.GetNameFunc = func() (string, nvml.Return) {
		if _, r := get("GetName"); r != nvml.SUCCESS {
			return "", r
		}
		return name()
	}
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		f, r := get("GetUtilizationRates")
		return nvml.Utilization{Gpu: f.Utilization, Memory: f.MemoryUtilization}, r
	}
	d.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) {
		f, r := get("GetMemoryInfo")
		total := uint64(TotalMiB) << 20
		used := f.MemoryUsedMiB << 20
		return nvml.Memory{Total: total, Used: used, Free: total - used}, r
	}
	d.GetTemperatureFunc = func(sensor nvml.TemperatureSensors) (uint32, nvml.Return) {
		f, r := get("GetTemperature")
		if sensor != nvml.TEMPERATURE_GPU {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return f.TemperatureC, r
	}
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) {
		f, r := get("GetPowerUsage")
		return f.PowerMW, r
	}
	d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) {
		f, r := get("GetEnforcedPowerLimit")
		return f.PowerLimitMW, r
	}
	d.GetClockInfoFunc = func(clock nvml.ClockType) (uint32, nvml.Return) {
		f, r := get("GetClockInfo")
		switch clock {
		case nvml.CLOCK_SM:
			return f.SMClockMHz, r
		case nvml.CLOCK_MEM:
			return f.MemoryClockMHz, r
		}
		return 0, nvml.ERROR_INVALID_ARGUMENT
	}
	d.GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) {
		f, r := get("GetCurrentClocksEventReasons")
		return f.Throttle, r
	}
	d.GetCurrentClocksThrottleReasonsFunc = func() (uint64, nvml.Return) {
		f, r := get("GetCurrentClocksThrottleReasons")
		return f.Throttle, r
	}
	d.GetTotalEccErrorsFunc = func(kind nvml.MemoryErrorType, counter nvml.EccCounterType) (uint64, nvml.Return) {
		f, r := get("GetTotalEccErrors")
		if kind >= nvml.MEMORY_ERROR_TYPE_COUNT || counter >= nvml.ECC_COUNTER_TYPE_COUNT {
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		return f.ECC[kind][counter], r
	}
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		f, r := get("GetComputeRunningProcesses")
		return append([]nvml.ProcessInfo(nil), f.Processes...), r
	}
	d.RegisterEventsFunc = func(types uint64, _ nvml.EventSet) nvml.Return {
		if _, r := get("RegisterEvents"); r != nvml.SUCCESS {
			return r
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.registered[i] |= types
		return nvml.SUCCESS
	}
}
