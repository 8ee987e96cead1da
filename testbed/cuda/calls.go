package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// Handles are the driver's opaque pointers, kept as integers on the Go side.
type (
	Device    int
	Context   uintptr
	Module    uintptr
	Function  uintptr
	Stream    uintptr
	Event     uintptr
	Graph     uintptr
	GraphExec uintptr
	DevicePtr uint64
)

// Stream handles with a meaning of their own (cuda.h).
const (
	StreamLegacy    Stream = 0x1
	StreamPerThread Stream = 0x2
)

// CaptureMode is a CUstreamCaptureMode.
type CaptureMode int

const (
	CaptureGlobal      CaptureMode = 0
	CaptureThreadLocal CaptureMode = 1
	CaptureRelaxed     CaptureMode = 2
)

func (l *Lib) fnOf(s sym) (unsafe.Pointer, error) {
	if l.fn[s] == nil {
		return nil, fmt.Errorf("%s: %w", symNames[s], ErrNoSymbol)
	}
	return l.fn[s], nil
}

// Init calls cuInit.
func (l *Lib) Init(flags uint) error {
	return check(symNames[symInit], int(C.ip_init(l.fn[symInit], C.uint(flags))))
}

// DriverVersion calls cuDriverGetVersion (e.g. 12040 for 12.4).
func (l *Lib) DriverVersion() (int, error) {
	f, err := l.fnOf(symDriverGetVersion)
	if err != nil {
		return 0, err
	}
	var v C.int
	r := C.ip_driver_version(f, &v)
	return int(v), check(symNames[symDriverGetVersion], int(r))
}

// DeviceGet calls cuDeviceGet.
func (l *Lib) DeviceGet(ordinal int) (Device, error) {
	f, err := l.fnOf(symDeviceGet)
	if err != nil {
		return 0, err
	}
	var d C.int
	r := C.ip_device_get(f, &d, C.int(ordinal))
	return Device(d), check(symNames[symDeviceGet], int(r))
}

// PrimaryCtxRetain calls cuDevicePrimaryCtxRetain (what the CUDA runtime does).
func (l *Lib) PrimaryCtxRetain(d Device) (Context, error) {
	f, err := l.fnOf(symDevicePrimaryCtxRetain)
	if err != nil {
		return 0, err
	}
	var c C.uintptr_t
	r := C.ip_primary_ctx_retain(f, &c, C.int(d))
	return Context(c), check(symNames[symDevicePrimaryCtxRetain], int(r))
}

// CtxCreate calls cuCtxCreate_v2.
func (l *Lib) CtxCreate(flags uint, d Device) (Context, error) {
	f, err := l.fnOf(symCtxCreate)
	if err != nil {
		return 0, err
	}
	var c C.uintptr_t
	r := C.ip_ctx_create(f, &c, C.uint(flags), C.int(d))
	return Context(c), check(symNames[symCtxCreate], int(r))
}

// CtxSetCurrent calls cuCtxSetCurrent.
func (l *Lib) CtxSetCurrent(c Context) error {
	f, err := l.fnOf(symCtxSetCurrent)
	if err != nil {
		return err
	}
	return check(symNames[symCtxSetCurrent], int(C.ip_ctx_set_current(f, C.uintptr_t(c))))
}

// StreamCreate calls cuStreamCreate.
func (l *Lib) StreamCreate(flags uint) (Stream, error) {
	f, err := l.fnOf(symStreamCreate)
	if err != nil {
		return 0, err
	}
	var s C.uintptr_t
	r := C.ip_stream_create(f, &s, C.uint(flags))
	return Stream(s), check(symNames[symStreamCreate], int(r))
}

// EventCreate calls cuEventCreate.
func (l *Lib) EventCreate(flags uint) (Event, error) {
	f, err := l.fnOf(symEventCreate)
	if err != nil {
		return 0, err
	}
	var e C.uintptr_t
	r := C.ip_event_create(f, &e, C.uint(flags))
	return Event(e), check(symNames[symEventCreate], int(r))
}

// ModuleLoadData calls cuModuleLoadData with an image (PTX text or a cubin).
func (l *Lib) ModuleLoadData(image []byte) (Module, error) {
	f, err := l.fnOf(symModuleLoadData)
	if err != nil {
		return 0, err
	}
	// The driver may read the image after the call returns on some versions: give it C memory.
	img := C.CBytes(append(append([]byte(nil), image...), 0))
	defer C.free(img)
	var m C.uintptr_t
	r := C.ip_module_load_data(f, &m, img)
	return Module(m), check(symNames[symModuleLoadData], int(r))
}

// ModuleGetFunction calls cuModuleGetFunction.
func (l *Lib) ModuleGetFunction(m Module, name string) (Function, error) {
	f, err := l.fnOf(symModuleGetFunction)
	if err != nil {
		return 0, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var fn C.uintptr_t
	r := C.ip_module_get_function(f, &fn, C.uintptr_t(m), cname)
	if err := check(symNames[symModuleGetFunction], int(r)); err != nil {
		return 0, fmt.Errorf("kernel %s: %w", name, err)
	}
	return Function(fn), nil
}
