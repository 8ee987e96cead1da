package cuda

// #include "shim.h"
import "C"

// GraphExecDestroy calls cuGraphExecDestroy.
func (l *Lib) GraphExecDestroy(e GraphExec) error {
	f, err := l.fnOf(symGraphExecDestroy)
	if err != nil {
		return err
	}
	return check(symNames[symGraphExecDestroy], int(C.ip_graph_exec_destroy(f, C.uintptr_t(e))))
}

// GraphDestroy calls cuGraphDestroy.
func (l *Lib) GraphDestroy(g Graph) error {
	f, err := l.fnOf(symGraphDestroy)
	if err != nil {
		return err
	}
	return check(symNames[symGraphDestroy], int(C.ip_graph_destroy(f, C.uintptr_t(g))))
}

// StreamDestroy calls cuStreamDestroy_v2.
func (l *Lib) StreamDestroy(s Stream) error {
	f, err := l.fnOf(symStreamDestroy)
	if err != nil {
		return err
	}
	return check(symNames[symStreamDestroy], int(C.ip_stream_destroy(f, C.uintptr_t(s))))
}

// EventDestroy calls cuEventDestroy_v2.
func (l *Lib) EventDestroy(e Event) error {
	f, err := l.fnOf(symEventDestroy)
	if err != nil {
		return err
	}
	return check(symNames[symEventDestroy], int(C.ip_event_destroy(f, C.uintptr_t(e))))
}

// ModuleUnload calls cuModuleUnload.
func (l *Lib) ModuleUnload(m Module) error {
	f, err := l.fnOf(symModuleUnload)
	if err != nil {
		return err
	}
	return check(symNames[symModuleUnload], int(C.ip_module_unload(f, C.uintptr_t(m))))
}

// PrimaryCtxRelease calls cuDevicePrimaryCtxRelease_v2.
func (l *Lib) PrimaryCtxRelease(d Device) error {
	f, err := l.fnOf(symDevicePrimaryCtxRelease)
	if err != nil {
		return err
	}
	return check(symNames[symDevicePrimaryCtxRelease], int(C.ip_primary_ctx_release(f, C.int(d))))
}
