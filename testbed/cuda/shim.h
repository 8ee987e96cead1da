/* shim.h: the driver API signatures of cuda.h (CUDA 12.x) that the testbed engine calls,
 * as function-pointer types, and the helpers that call a dlsym'd pointer of each type.
 * Declared here so nothing needs the CUDA toolkit. */
#ifndef IP_CUDA_SHIM_H
#define IP_CUDA_SHIM_H

#include <stdint.h>
#include <stdlib.h>

// cuda.h types: handles are pointers to opaque structs, CUdeviceptr is 64-bit, CUresult
// and CUdevice are ints, CUstreamCaptureMode is an enum (an int).
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

typedef CUresult (*cuInit_t)(unsigned int Flags);
typedef CUresult (*cuDriverGetVersion_t)(int *driverVersion);
typedef CUresult (*cuDeviceGet_t)(CUdevice *device, int ordinal);
typedef CUresult (*cuDevicePrimaryCtxRetain_t)(CUcontext *pctx, CUdevice dev);
typedef CUresult (*cuCtxCreate_t)(CUcontext *pctx, unsigned int flags, CUdevice dev);
typedef CUresult (*cuCtxSetCurrent_t)(CUcontext ctx);
typedef CUresult (*cuStreamCreate_t)(CUstream *phStream, unsigned int Flags);
typedef CUresult (*cuEventCreate_t)(CUevent *phEvent, unsigned int Flags);
typedef CUresult (*cuModuleLoadData_t)(CUmodule *module, const void *image);
typedef CUresult (*cuModuleGetFunction_t)(CUfunction *hfunc, CUmodule hmod, const char *name);
typedef CUresult (*cuLaunchKernel_t)(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
	unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
	unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra);
typedef CUresult (*cuStreamBeginCapture_t)(CUstream hStream, int mode);
typedef CUresult (*cuStreamEndCapture_t)(CUstream hStream, CUgraph *phGraph);
typedef CUresult (*cuGraphInstantiateWithFlags_t)(CUgraphExec *phGraphExec, CUgraph hGraph,
	unsigned long long flags);
typedef CUresult (*cuGraphLaunch_t)(CUgraphExec hGraphExec, CUstream hStream);
typedef CUresult (*cuMemAlloc_t)(CUdeviceptr *dptr, size_t bytesize);
typedef CUresult (*cuMemFree_t)(CUdeviceptr dptr);
typedef CUresult (*cuMemcpyHtoDAsync_t)(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
	CUstream hStream);
typedef CUresult (*cuMemcpyDtoHAsync_t)(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
	CUstream hStream);
typedef CUresult (*cuMemcpyDtoH_t)(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount);
typedef CUresult (*cuEventRecord_t)(CUevent hEvent, CUstream hStream);
typedef CUresult (*cuEventSynchronize_t)(CUevent hEvent);
typedef CUresult (*cuStreamSynchronize_t)(CUstream hStream);
typedef CUresult (*cuGraphExecDestroy_t)(CUgraphExec hGraphExec);
typedef CUresult (*cuGraphDestroy_t)(CUgraph hGraph);
typedef CUresult (*cuStreamDestroy_t)(CUstream hStream);
typedef CUresult (*cuEventDestroy_t)(CUevent hEvent);
typedef CUresult (*cuModuleUnload_t)(CUmodule hmod);
typedef CUresult (*cuDevicePrimaryCtxRelease_t)(CUdevice dev);

// ip_launch_rec is one launch of a list; Go's Launch has the same layout.
typedef struct {
	uintptr_t fn;
	unsigned int gx, gy, gz, bx, by, bz, shmem;
} ip_launch_rec;

void *ip_dlopen(const char *path);
const char *ip_dlerror(void);
void *ip_dlsym(void *h, const char *name);
int ip_dlclose(void *h);

int ip_init(void *f, unsigned flags);
int ip_driver_version(void *f, int *v);
int ip_device_get(void *f, int *d, int ordinal);
int ip_primary_ctx_retain(void *f, uintptr_t *out, int dev);
int ip_ctx_create(void *f, uintptr_t *out, unsigned flags, int dev);
int ip_ctx_set_current(void *f, uintptr_t c);
int ip_stream_create(void *f, uintptr_t *out, unsigned flags);
int ip_event_create(void *f, uintptr_t *out, unsigned flags);
int ip_module_load_data(void *f, uintptr_t *out, const void *image);
int ip_module_get_function(void *f, uintptr_t *out, uintptr_t m, const char *name);
int ip_launch(void *f, uintptr_t fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, uintptr_t s);
int ip_launch_list(void *f, const ip_launch_rec *l, int n, uintptr_t s, int *failed);
int ip_begin_capture(void *f, uintptr_t s, int mode);
int ip_end_capture(void *f, uintptr_t s, uintptr_t *out);
int ip_graph_instantiate(void *f, uintptr_t *out, uintptr_t g, unsigned long long flags);
int ip_graph_launch(void *f, uintptr_t e, uintptr_t s);
int ip_mem_alloc(void *f, unsigned long long *out, size_t n);
int ip_mem_free(void *f, unsigned long long p);
int ip_htod_async(void *f, unsigned long long dst, const void *src, size_t n, uintptr_t s);
int ip_dtoh_async(void *f, void *dst, unsigned long long src, size_t n, uintptr_t s);
int ip_dtoh(void *f, void *dst, unsigned long long src, size_t n);
int ip_event_record(void *f, uintptr_t e, uintptr_t s);
int ip_event_sync(void *f, uintptr_t e);
int ip_stream_sync(void *f, uintptr_t s);
int ip_graph_exec_destroy(void *f, uintptr_t h);
int ip_graph_destroy(void *f, uintptr_t h);
int ip_stream_destroy(void *f, uintptr_t h);
int ip_event_destroy(void *f, uintptr_t h);
int ip_module_unload(void *f, uintptr_t h);
int ip_primary_ctx_release(void *f, int dev);
int ip_launch_list_at(void *f, const ip_launch_rec *l, int n, uintptr_t s, int *failed, uint64_t *t);
int ip_graph_launch_at(void *f, uintptr_t e, uintptr_t s, uint64_t *t);
int ip_event_sync_at(void *f, uintptr_t e, uint64_t *t);
int ip_stream_sync_at(void *f, uintptr_t s, uint64_t *t);
int ip_dtoh_at(void *f, void *dst, unsigned long long src, size_t n, uint64_t *t);

#endif
