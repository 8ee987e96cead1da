package gpu

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Library is the part of NVML the sampler calls. nvml.Interface (the host's
// libnvidia-ml) and go-nvml's mock server both satisfy it.
type Library interface {
	Init() nvml.Return
	Shutdown() nvml.Return
	DeviceGetCount() (int, nvml.Return)
	DeviceGetHandleByIndex(int) (nvml.Device, nvml.Return)
	EventSetCreate() (nvml.EventSet, nvml.Return)
}

// deviceReader is the part of an NVML device handle the sampler reads.
type deviceReader interface {
	GetUUID() (string, nvml.Return)
	GetName() (string, nvml.Return)
	GetUtilizationRates() (nvml.Utilization, nvml.Return)
	GetMemoryInfo() (nvml.Memory, nvml.Return)
	GetTemperature(nvml.TemperatureSensors) (uint32, nvml.Return)
	GetPowerUsage() (uint32, nvml.Return)
	GetEnforcedPowerLimit() (uint32, nvml.Return)
	GetClockInfo(nvml.ClockType) (uint32, nvml.Return)
	GetCurrentClocksEventReasons() (uint64, nvml.Return)
	GetCurrentClocksThrottleReasons() (uint64, nvml.Return)
	GetTotalEccErrors(nvml.MemoryErrorType, nvml.EccCounterType) (uint64, nvml.Return)
	GetComputeRunningProcesses() ([]nvml.ProcessInfo, nvml.Return)
	RegisterEvents(uint64, nvml.EventSet) nvml.Return
}

// check is the one place an NVML return code is interpreted:
//   - SUCCESS: a value (true, nil);
//   - ERROR_NOT_SUPPORTED, or ERROR_FUNCTION_NOT_FOUND (a driver too old for the call):
//     no value (false, nil), which is not a failure and is not logged;
//   - anything else: an error "nvml <what>: <NVML's text>" that wraps the nvml.Return, so
//     errors.Is(err, nvml.ERROR_GPU_IS_LOST) works.
func check(ret nvml.Return, what string) (bool, error) {
	switch ret {
	case nvml.SUCCESS:
		return true, nil
	case nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_FUNCTION_NOT_FOUND:
		return false, nil
	}
	return false, fmt.Errorf("nvml %s: %w", what, ret)
}

// initLibrary initialises lib (the host's NVML when lib is nil, loaded from path, ""
// meaning libnvidia-ml.so.1). A missing library or driver gives ErrNoNVML; a panic in
// the loader is turned into an error.
func initLibrary(lib Library, path string) (_ Library, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: nvml init: %v", ErrNoNVML, r)
		}
	}()
	if lib == nil {
		var opts []nvml.LibraryOption
		if path != "" {
			opts = append(opts, nvml.WithLibraryPath(path))
		}
		lib = nvml.New(opts...)
	}
	_, err = check(lib.Init(), "init")
	switch {
	case errors.Is(err, nvml.ERROR_LIBRARY_NOT_FOUND):
		return nil, ErrNoNVML
	case errors.Is(err, nvml.ERROR_DRIVER_NOT_LOADED):
		return nil, fmt.Errorf("%w: %w", ErrNoNVML, err)
	case err != nil:
		return nil, err
	}
	return lib, nil
}

// hasSymbol reports whether the loaded NVML exports the named function. Libraries that
// cannot say (no Extensions) are assumed to have it.
func hasSymbol(lib Library, name string) bool {
	ext, ok := lib.(interface{ Extensions() nvml.ExtendedInterface })
	if !ok {
		return true
	}
	return ext.Extensions().LookupSymbol(name) == nil
}
