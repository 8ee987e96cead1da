// shim.c: each helper calls one driver function through the pointer dlsym returned for
// it, so the exported symbol is what runs (and what a uprobe on it sees).
#include <dlfcn.h>
#include <time.h>
#include "shim.h"

void *ip_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
const char *ip_dlerror(void) { return dlerror(); }
void *ip_dlsym(void *h, const char *name) { return dlsym(h, name); }
int ip_dlclose(void *h) { return dlclose(h); }

int ip_init(void *f, unsigned flags) { return ((cuInit_t)f)(flags); }
int ip_driver_version(void *f, int *v) { return ((cuDriverGetVersion_t)f)(v); }
int ip_device_get(void *f, int *d, int ordinal) { return ((cuDeviceGet_t)f)(d, ordinal); }
int ip_primary_ctx_retain(void *f, uintptr_t *out, int dev) {
	CUcontext c = 0; int r = ((cuDevicePrimaryCtxRetain_t)f)(&c, dev); *out = (uintptr_t)c; return r;
}
int ip_ctx_create(void *f, uintptr_t *out, unsigned flags, int dev) {
	CUcontext c = 0; int r = ((cuCtxCreate_t)f)(&c, flags, dev); *out = (uintptr_t)c; return r;
}
int ip_ctx_set_current(void *f, uintptr_t c) { return ((cuCtxSetCurrent_t)f)((CUcontext)c); }
int ip_stream_create(void *f, uintptr_t *out, unsigned flags) {
	CUstream s = 0; int r = ((cuStreamCreate_t)f)(&s, flags); *out = (uintptr_t)s; return r;
}
int ip_event_create(void *f, uintptr_t *out, unsigned flags) {
	CUevent e = 0; int r = ((cuEventCreate_t)f)(&e, flags); *out = (uintptr_t)e; return r;
}
int ip_module_load_data(void *f, uintptr_t *out, const void *image) {
	CUmodule m = 0; int r = ((cuModuleLoadData_t)f)(&m, image); *out = (uintptr_t)m; return r;
}
int ip_module_get_function(void *f, uintptr_t *out, uintptr_t m, const char *name) {
	CUfunction fn = 0; int r = ((cuModuleGetFunction_t)f)(&fn, (CUmodule)m, name); *out = (uintptr_t)fn; return r;
}
int ip_launch(void *f, uintptr_t fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
		unsigned by, unsigned bz, unsigned shmem, uintptr_t s) {
	return ((cuLaunchKernel_t)f)((CUfunction)fn, gx, gy, gz, bx, by, bz, shmem, (CUstream)s, NULL, NULL);
}


// ip_launch_list calls cuLaunchKernel (through the resolved pointer) once per record,
// stopping at the first error, whose index goes to *failed.
int ip_launch_list(void *f, const ip_launch_rec *l, int n, uintptr_t s, int *failed) {
	cuLaunchKernel_t launch = (cuLaunchKernel_t)f;
	for (int i = 0; i < n; i++) {
		int r = launch((CUfunction)l[i].fn, l[i].gx, l[i].gy, l[i].gz, l[i].bx, l[i].by, l[i].bz,
			l[i].shmem, (CUstream)s, NULL, NULL);
		if (r != 0) { *failed = i; return r; }
	}
	return 0;
}
int ip_begin_capture(void *f, uintptr_t s, int mode) { return ((cuStreamBeginCapture_t)f)((CUstream)s, mode); }
int ip_end_capture(void *f, uintptr_t s, uintptr_t *out) {
	CUgraph g = 0; int r = ((cuStreamEndCapture_t)f)((CUstream)s, &g); *out = (uintptr_t)g; return r;
}
int ip_graph_instantiate(void *f, uintptr_t *out, uintptr_t g, unsigned long long flags) {
	CUgraphExec e = 0; int r = ((cuGraphInstantiateWithFlags_t)f)(&e, (CUgraph)g, flags); *out = (uintptr_t)e; return r;
}
int ip_graph_launch(void *f, uintptr_t e, uintptr_t s) { return ((cuGraphLaunch_t)f)((CUgraphExec)e, (CUstream)s); }
int ip_mem_alloc(void *f, unsigned long long *out, size_t n) {
	CUdeviceptr p = 0; int r = ((cuMemAlloc_t)f)(&p, n); *out = p; return r;
}
int ip_mem_free(void *f, unsigned long long p) { return ((cuMemFree_t)f)(p); }
int ip_htod_async(void *f, unsigned long long dst, const void *src, size_t n, uintptr_t s) {
	return ((cuMemcpyHtoDAsync_t)f)(dst, src, n, (CUstream)s);
}
int ip_dtoh_async(void *f, void *dst, unsigned long long src, size_t n, uintptr_t s) {
	return ((cuMemcpyDtoHAsync_t)f)(dst, src, n, (CUstream)s);
}
int ip_dtoh(void *f, void *dst, unsigned long long src, size_t n) { return ((cuMemcpyDtoH_t)f)(dst, src, n); }
int ip_event_record(void *f, uintptr_t e, uintptr_t s) { return ((cuEventRecord_t)f)((CUevent)e, (CUstream)s); }
int ip_event_sync(void *f, uintptr_t e) { return ((cuEventSynchronize_t)f)((CUevent)e); }
int ip_stream_sync(void *f, uintptr_t s) { return ((cuStreamSynchronize_t)f)((CUstream)s); }
int ip_graph_exec_destroy(void *f, uintptr_t h) { return ((cuGraphExecDestroy_t)f)((CUgraphExec)h); }
int ip_graph_destroy(void *f, uintptr_t h) { return ((cuGraphDestroy_t)f)((CUgraph)h); }
int ip_stream_destroy(void *f, uintptr_t h) { return ((cuStreamDestroy_t)f)((CUstream)h); }
int ip_event_destroy(void *f, uintptr_t h) { return ((cuEventDestroy_t)f)((CUevent)h); }
int ip_module_unload(void *f, uintptr_t h) { return ((cuModuleUnload_t)f)((CUmodule)h); }
int ip_primary_ctx_release(void *f, int dev) { return ((cuDevicePrimaryCtxRelease_t)f)(dev); }

// The _at helpers read CLOCK_MONOTONIC in C right before the first launch, or the moment
// a blocking call returns (before the goroutine has to win a P back): the times a uprobe
// on the launch, or a uretprobe on the wait, would record.
static uint64_t ip_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
int ip_launch_list_at(void *f, const ip_launch_rec *l, int n, uintptr_t s, int *failed, uint64_t *t) {
	*t = ip_now();
	return ip_launch_list(f, l, n, s, failed);
}
int ip_graph_launch_at(void *f, uintptr_t e, uintptr_t s, uint64_t *t) {
	*t = ip_now();
	return ((cuGraphLaunch_t)f)((CUgraphExec)e, (CUstream)s);
}
int ip_event_sync_at(void *f, uintptr_t e, uint64_t *t) {
	int r = ((cuEventSynchronize_t)f)((CUevent)e); *t = ip_now(); return r;
}
int ip_stream_sync_at(void *f, uintptr_t s, uint64_t *t) {
	int r = ((cuStreamSynchronize_t)f)((CUstream)s); *t = ip_now(); return r;
}
int ip_dtoh_at(void *f, void *dst, unsigned long long src, size_t n, uint64_t *t) {
	int r = ((cuMemcpyDtoH_t)f)(dst, src, n); *t = ip_now(); return r;
}
