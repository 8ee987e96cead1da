/* cudriver.h: the workload program's view of the driver. It never links libcuda: like
 * PyTorch it dlopens libcuda.so.1 and calls through pointers, either dlsym'd by exported
 * name (the legacy-stream table) or handed out by cuGetProcAddress_v2 with
 * CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM (the per-thread table, as cudart built
 * with --default-stream per-thread gets them). */
#ifndef FAKECUDA_CUDRIVER_H
#define FAKECUDA_CUDRIVER_H

#include <stdint.h>
#include <sys/types.h>

#include "api.h"

/* X(field, base name, legacy-stream symbol, per-thread symbol) */
#define CU_FUNCS(X)                                                                            \
	X(Init, cuInit, cuInit, cuInit)                                                        \
	X(DriverGetVersion, cuDriverGetVersion, cuDriverGetVersion, cuDriverGetVersion)        \
	X(DeviceGet, cuDeviceGet, cuDeviceGet, cuDeviceGet)                                    \
	X(DeviceGetCount, cuDeviceGetCount, cuDeviceGetCount, cuDeviceGetCount)                \
	X(DeviceGetName, cuDeviceGetName, cuDeviceGetName, cuDeviceGetName)                    \
	X(DeviceTotalMem, cuDeviceTotalMem, cuDeviceTotalMem_v2, cuDeviceTotalMem_v2)          \
	X(CtxCreate, cuCtxCreate, cuCtxCreate_v2, cuCtxCreate_v2)                              \
	X(DevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain,         \
	  cuDevicePrimaryCtxRetain)                                                            \
	X(CtxSetCurrent, cuCtxSetCurrent, cuCtxSetCurrent, cuCtxSetCurrent)                    \
	X(CtxGetCurrent, cuCtxGetCurrent, cuCtxGetCurrent, cuCtxGetCurrent)                    \
	X(MemGetInfo, cuMemGetInfo, cuMemGetInfo_v2, cuMemGetInfo_v2)                          \
	X(GetErrorName, cuGetErrorName, cuGetErrorName, cuGetErrorName)                        \
	X(StreamCreate, cuStreamCreate, cuStreamCreate, cuStreamCreate)                        \
	X(StreamDestroy, cuStreamDestroy, cuStreamDestroy_v2, cuStreamDestroy_v2)              \
	X(EventCreate, cuEventCreate, cuEventCreate, cuEventCreate)                            \
	X(EventDestroy, cuEventDestroy, cuEventDestroy_v2, cuEventDestroy_v2)                  \
	X(EventRecord, cuEventRecord, cuEventRecord, cuEventRecord_ptsz)                       \
	X(EventSynchronize, cuEventSynchronize, cuEventSynchronize, cuEventSynchronize)        \
	X(StreamSynchronize, cuStreamSynchronize, cuStreamSynchronize, cuStreamSynchronize_ptsz) \
	X(CtxSynchronize, cuCtxSynchronize, cuCtxSynchronize, cuCtxSynchronize)                \
	X(MemcpyDtoH, cuMemcpyDtoH, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds)                     \
	X(MemcpyHtoD, cuMemcpyHtoD, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds)                     \
	X(MemcpyAsync, cuMemcpyAsync, cuMemcpyAsync, cuMemcpyAsync_ptsz)                       \
	X(MemcpyDtoHAsync, cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz) \
	X(MemcpyHtoDAsync, cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz) \
	X(ModuleLoadData, cuModuleLoadData, cuModuleLoadData, cuModuleLoadData)                \
	X(ModuleGetFunction, cuModuleGetFunction, cuModuleGetFunction, cuModuleGetFunction)    \
	X(LibraryLoadData, cuLibraryLoadData, cuLibraryLoadData, cuLibraryLoadData)            \
	X(LibraryGetKernel, cuLibraryGetKernel, cuLibraryGetKernel, cuLibraryGetKernel)        \
	X(KernelGetFunction, cuKernelGetFunction, cuKernelGetFunction, cuKernelGetFunction)    \
	X(LaunchKernel, cuLaunchKernel, cuLaunchKernel, cuLaunchKernel_ptsz)                   \
	X(LaunchKernelEx, cuLaunchKernelEx, cuLaunchKernelEx, cuLaunchKernelEx_ptsz)           \
	X(LaunchCooperativeKernel, cuLaunchCooperativeKernel, cuLaunchCooperativeKernel,      \
	  cuLaunchCooperativeKernel_ptsz)                                                      \
	X(GraphLaunch, cuGraphLaunch, cuGraphLaunch, cuGraphLaunch_ptsz)                       \
	X(StreamBeginCapture, cuStreamBeginCapture, cuStreamBeginCapture_v2,                  \
	  cuStreamBeginCapture_v2_ptsz)                                                        \
	X(StreamEndCapture, cuStreamEndCapture, cuStreamEndCapture, cuStreamEndCapture_ptsz)   \
	X(GraphInstantiate, cuGraphInstantiate, cuGraphInstantiateWithFlags,                  \
	  cuGraphInstantiateWithFlags)                                                         \
	X(GraphExecDestroy, cuGraphExecDestroy, cuGraphExecDestroy, cuGraphExecDestroy)        \
	X(GraphDestroy, cuGraphDestroy, cuGraphDestroy, cuGraphDestroy)                        \
	X(MemAlloc, cuMemAlloc, cuMemAlloc_v2, cuMemAlloc_v2)                                  \
	X(MemAllocAsync, cuMemAllocAsync, cuMemAllocAsync, cuMemAllocAsync_ptsz)               \
	X(MemFree, cuMemFree, cuMemFree_v2, cuMemFree_v2)                                      \
	X(MemFreeAsync, cuMemFreeAsync, cuMemFreeAsync, cuMemFreeAsync_ptsz)                   \
	X(MemGetAllocationGranularity, cuMemGetAllocationGranularity,                         \
	  cuMemGetAllocationGranularity, cuMemGetAllocationGranularity)                        \
	X(MemCreate, cuMemCreate, cuMemCreate, cuMemCreate)                                    \
	X(MemRelease, cuMemRelease, cuMemRelease, cuMemRelease)                                \
	X(MemAddressReserve, cuMemAddressReserve, cuMemAddressReserve, cuMemAddressReserve)    \
	X(MemAddressFree, cuMemAddressFree, cuMemAddressFree, cuMemAddressFree)                \
	X(MemMap, cuMemMap, cuMemMap, cuMemMap)                                                \
	X(MemUnmap, cuMemUnmap, cuMemUnmap, cuMemUnmap)

#define CU_FIELD(field, base, sym, ptsym) __typeof__(&sym) field;
struct cu {
	CU_FUNCS(CU_FIELD)
};
#undef CU_FIELD

#define PROC_VERSION 12080 /* the cudaVersion cudriver asks cuGetProcAddress_v2 for */

/* cudriver_api.c */
extern fakecudaLastCall_fn last_call;
extern __typeof__(&cuGetProcAddress_v2) get_proc;
int api_open(const char *path);                 /* dlopen and fill cu_legacy; -1 after printing why */
int api_fill_per_thread(struct cu *t);          /* through cuGetProcAddress_v2; after cuInit */
int api_check_procaddr(void);                   /* the procaddr mode: 0 when every address agrees */
const char *api_symbol(const void *fn);         /* the exported name at fn (dladdr) */
void *api_sym(const char *name);                /* dlsym in the driver */
extern struct cu cu_legacy;

/* cudriver_report.c */
struct rec {
	const char *symbol;
	char call[48];
	int probed;
	int thread;
	pid_t tid;
	uint64_t start_ns, end_ns;
	int result;
	uint64_t stream, handle, out;
	const char *kernel;
	unsigned grid[3], block[3];
	uint64_t bytes, addr;
	int captured;
	uint32_t cls;
	uint64_t seq, cost_ns, sim_gpu_ns, stall_ns;
	uint64_t run_delay_ns; /* time the thread spent runnable but not running during the call */
};

struct recorder {
	struct rec *recs;
	int n, cap;
	int thread;
	pid_t tid;
};

uint64_t mono_ns(void);
uint64_t run_delay_ns(void); /* this thread's run-queue wait so far (schedstat), 0 if unknown */
struct rec *rec_new(struct recorder *r, const void *fn);
int rec_end(struct rec *c, int result);
int report_write(const char *path, struct recorder *rs, int n);
const char *call_family(const char *symbol, char *buf, size_t len);
int call_probed(const char *family);

/* RUN times expr, a driver call, and records its result in c. */
#define RUN(c, expr) ((c)->run_delay_ns = run_delay_ns(), (c)->start_ns = mono_ns(), rec_end((c), (expr)))

/* cudriver_script.c */
struct setup {
	CUdevice dev;
	CUcontext ctx;
	CUstream streams[2];
	CUmodule mod;
	CUlibrary lib;
	CUfunction early;
	size_t total_mem;
};
int script_run(const struct setup *s, struct cu *per_thread, const char *report);

/* cudriver.c */
int check(const char *what, int r); /* prints a failed call's CUresult; returns r */
int setup(struct setup *s);        /* phase 1: init, context, streams, module, library */
void ready(void);                  /* prints "ready <pid>" */

/* cudriver_selftest.c */
int selftest_run(const struct setup *s);

/* cudriver_loop.c */
int loop_run(const struct setup *s, double seconds, const char *summary);

#endif
