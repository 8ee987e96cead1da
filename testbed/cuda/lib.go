package cuda

// #cgo LDFLAGS: -ldl
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"
)

// SOName is the driver library's name, as PyTorch and the CUDA runtime dlopen it.
const SOName = "libcuda.so.1"

// ErrNoLibrary says the driver library could not be loaded.
var ErrNoLibrary = errors.New("no CUDA driver library")

// ErrNoSymbol says the loaded library does not export a function the caller needs.
var ErrNoSymbol = errors.New("symbol not exported by the driver library")

// sym indexes the resolved driver functions.
type sym int

const (
	symInit sym = iota
	symDriverGetVersion
	symDeviceGet
	symDevicePrimaryCtxRetain
	symCtxCreate
	symCtxSetCurrent
	symStreamCreate
	symEventCreate
	symModuleLoadData
	symModuleGetFunction
	symLaunchKernel
	symLaunchKernelPtsz
	symStreamBeginCapture
	symStreamBeginCapturePtsz
	symStreamEndCapture
	symStreamEndCapturePtsz
	symGraphInstantiateWithFlags
	symGraphLaunch
	symGraphLaunchPtsz
	symMemAlloc
	symMemFree
	symMemcpyHtoDAsync
	symMemcpyHtoDAsyncPtsz
	symMemcpyDtoHAsync
	symMemcpyDtoHAsyncPtsz
	symMemcpyDtoH
	symMemcpyDtoHPtds
	symEventRecord
	symEventRecordPtsz
	symEventSynchronize
	symStreamSynchronize
	symStreamSynchronizePtsz
	symGraphExecDestroy
	symGraphDestroy
	symStreamDestroy
	symEventDestroy
	symModuleUnload
	symDevicePrimaryCtxRelease
	numSyms
)

// symNames are the exported names, as in cuda.h after its versioning macros.
var symNames = [numSyms]string{
	symInit:                      "cuInit",
	symDriverGetVersion:          "cuDriverGetVersion",
	symDeviceGet:                 "cuDeviceGet",
	symDevicePrimaryCtxRetain:    "cuDevicePrimaryCtxRetain",
	symCtxCreate:                 "cuCtxCreate_v2",
	symCtxSetCurrent:             "cuCtxSetCurrent",
	symStreamCreate:              "cuStreamCreate",
	symEventCreate:               "cuEventCreate",
	symModuleLoadData:            "cuModuleLoadData",
	symModuleGetFunction:         "cuModuleGetFunction",
	symLaunchKernel:              "cuLaunchKernel",
	symLaunchKernelPtsz:          "cuLaunchKernel_ptsz",
	symStreamBeginCapture:        "cuStreamBeginCapture_v2",
	symStreamBeginCapturePtsz:    "cuStreamBeginCapture_v2_ptsz",
	symStreamEndCapture:          "cuStreamEndCapture",
	symStreamEndCapturePtsz:      "cuStreamEndCapture_ptsz",
	symGraphInstantiateWithFlags: "cuGraphInstantiateWithFlags",
	symGraphLaunch:               "cuGraphLaunch",
	symGraphLaunchPtsz:           "cuGraphLaunch_ptsz",
	symMemAlloc:                  "cuMemAlloc_v2",
	symMemFree:                   "cuMemFree_v2",
	symMemcpyHtoDAsync:           "cuMemcpyHtoDAsync_v2",
	symMemcpyHtoDAsyncPtsz:       "cuMemcpyHtoDAsync_v2_ptsz",
	symMemcpyDtoHAsync:           "cuMemcpyDtoHAsync_v2",
	symMemcpyDtoHAsyncPtsz:       "cuMemcpyDtoHAsync_v2_ptsz",
	symMemcpyDtoH:                "cuMemcpyDtoH_v2",
	symMemcpyDtoHPtds:            "cuMemcpyDtoH_v2_ptds",
	symEventRecord:               "cuEventRecord",
	symEventRecordPtsz:           "cuEventRecord_ptsz",
	symEventSynchronize:          "cuEventSynchronize",
	symStreamSynchronize:         "cuStreamSynchronize",
	symStreamSynchronizePtsz:     "cuStreamSynchronize_ptsz",
	symGraphExecDestroy:          "cuGraphExecDestroy",
	symGraphDestroy:              "cuGraphDestroy",
	symStreamDestroy:             "cuStreamDestroy_v2",
	symEventDestroy:              "cuEventDestroy_v2",
	symModuleUnload:              "cuModuleUnload",
	symDevicePrimaryCtxRelease:   "cuDevicePrimaryCtxRelease_v2",
}

// Lib is a loaded driver library with its functions resolved.
type Lib struct {
	path      string
	handle    unsafe.Pointer
	fn        [numSyms]unsafe.Pointer
	perThread bool
}

// Open loads the driver library. path may be empty (the loader's search path, as
// dlopen("libcuda.so.1") does), a directory holding libcuda.so.1, or the library file.
// Only cuInit is required at Open: a function that is missing fails when called, with
// ErrNoSymbol.
func Open(path string) (*Lib, error) {
	target := SOName
	if path != "" {
		target = path
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			target = filepath.Join(path, SOName)
		} else if err != nil {
			return nil, fmt.Errorf("open %s: %w: %w", path, ErrNoLibrary, err)
		}
	}
	cpath := C.CString(target)
	defer C.free(unsafe.Pointer(cpath))
	h := C.ip_dlopen(cpath)
	if h == nil {
		return nil, fmt.Errorf("open %s: %w: %s", target, ErrNoLibrary, C.GoString(C.ip_dlerror()))
	}
	l := &Lib{path: target, handle: h}
	for i, name := range symNames {
		cname := C.CString(name)
		l.fn[i] = C.ip_dlsym(h, cname)
		C.free(unsafe.Pointer(cname))
	}
	if l.fn[symInit] == nil {
		C.ip_dlclose(h)
		return nil, fmt.Errorf("open %s: %w: no cuInit", target, ErrNoLibrary)
	}
	return l, nil
}

// Path is what was handed to dlopen.
func (l *Lib) Path() string { return l.path }

// Has says whether the library exports the named driver function.
func (l *Lib) Has(name string) bool {
	for i, n := range symNames {
		if n == name {
			return l.fn[i] != nil
		}
	}
	return false
}

// UsePerThreadStream switches launches, graph launches, captures, async copies, event
// records and stream syncs to their _ptsz variants (what a program built with
// --default-stream per-thread calls). The launch and graph-launch variants are required.
func (l *Lib) UsePerThreadStream() error {
	for _, s := range []sym{symLaunchKernelPtsz, symGraphLaunchPtsz} {
		if l.fn[s] == nil {
			return fmt.Errorf("%s: %w", symNames[s], ErrNoSymbol)
		}
	}
	l.perThread = true
	return nil
}

// Close unloads the library. Handles obtained from it are invalid afterwards.
func (l *Lib) Close() error {
	if l.handle == nil {
		return nil
	}
	if C.ip_dlclose(l.handle) != 0 {
		return fmt.Errorf("close %s: %s", l.path, C.GoString(C.ip_dlerror()))
	}
	l.handle = nil
	return nil
}

// pick returns the function to call: the _ptsz variant when per-thread streams are on
// and the library has it, else the plain one; an error when neither exists.
func (l *Lib) pick(plain, ptsz sym) (unsafe.Pointer, string, error) {
	s := plain
	if l.perThread && ptsz >= 0 && l.fn[ptsz] != nil {
		s = ptsz
	}
	if l.fn[s] == nil {
		return nil, symNames[s], fmt.Errorf("%s: %w", symNames[s], ErrNoSymbol)
	}
	return l.fn[s], symNames[s], nil
}
