//go:build ignore

/* procaddr.c: cuGetProcAddress_v2, the way cudart (and PyTorch through it) finds driver
 * entry points. The symbol is the base name ("cuMemAlloc", "cuLaunchKernel"); the answer
 * is the address of the exported variant a real driver would give for cudaVersion and
 * flags (CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM selects _ptsz/_ptds), so calls
 * through it hit the same addresses the uprobes are on. An exact exported name (say
 * "cuMemAlloc_v2") resolves to itself. A base name asked for with a cudaVersion older
 * than the variant this library exports gives CUDA_ERROR_NOT_FOUND and
 * CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT: the older variants are not simulated. */
#include <string.h>

#include "api.h"
#include "internal.h"

struct proc {
	const char *base;
	int version; /* the cudaVersion from which base means this variant */
	void *def, *pt;
	const char *def_name, *pt_name;
};

#define E(base, version, def, pt) {#base, version, (void *)def, (void *)pt, #def, #pt}
#define E1(base, version, def) E(base, version, def, def)

static const struct proc procs[] = {
	E1(cuInit, 2000, cuInit),
	E1(cuDriverGetVersion, 2020, cuDriverGetVersion),
	E1(cuDeviceGet, 2000, cuDeviceGet),
	E1(cuDeviceGetCount, 2000, cuDeviceGetCount),
	E1(cuDeviceGetName, 2000, cuDeviceGetName),
	E1(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2),
	E1(cuCtxCreate, 3020, cuCtxCreate_v2),
	E1(cuCtxDestroy, 4000, cuCtxDestroy_v2),
	E1(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain),
	E1(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2),
	E1(cuCtxSetCurrent, 4000, cuCtxSetCurrent),
	E1(cuCtxGetCurrent, 4000, cuCtxGetCurrent),
	E1(cuMemGetInfo, 3020, cuMemGetInfo_v2),
	E1(cuGetErrorName, 6000, cuGetErrorName),
	E1(cuGetErrorString, 6000, cuGetErrorString),
	E1(cuGetProcAddress, 12050, cuGetProcAddress_v2),
	E1(cuStreamCreate, 2000, cuStreamCreate),
	E1(cuStreamDestroy, 4000, cuStreamDestroy_v2),
	E(cuStreamQuery, 2000, cuStreamQuery, cuStreamQuery_ptsz),
	E1(cuEventCreate, 2000, cuEventCreate),
	E1(cuEventDestroy, 4000, cuEventDestroy_v2),
	E1(cuEventQuery, 2000, cuEventQuery),
	E(cuEventRecord, 2000, cuEventRecord, cuEventRecord_ptsz),
	E(cuStreamSynchronize, 2000, cuStreamSynchronize, cuStreamSynchronize_ptsz),
	E1(cuEventSynchronize, 2000, cuEventSynchronize),
	E1(cuCtxSynchronize, 2000, cuCtxSynchronize),
	E(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2, cuMemcpyDtoH_v2_ptds),
	E(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2, cuMemcpyHtoD_v2_ptds),
	E(cuMemcpyAsync, 4000, cuMemcpyAsync, cuMemcpyAsync_ptsz),
	E(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2, cuMemcpyDtoHAsync_v2_ptsz),
	E(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2, cuMemcpyHtoDAsync_v2_ptsz),
	E1(cuModuleLoadData, 2000, cuModuleLoadData),
	E1(cuModuleUnload, 2000, cuModuleUnload),
	E1(cuModuleGetFunction, 2000, cuModuleGetFunction),
	E1(cuLibraryLoadData, 12000, cuLibraryLoadData),
	E1(cuLibraryUnload, 12000, cuLibraryUnload),
	E1(cuLibraryGetKernel, 12000, cuLibraryGetKernel),
	E1(cuKernelGetFunction, 12000, cuKernelGetFunction),
	E(cuLaunchKernel, 4000, cuLaunchKernel, cuLaunchKernel_ptsz),
	E(cuLaunchKernelEx, 11060, cuLaunchKernelEx, cuLaunchKernelEx_ptsz),
	E(cuLaunchCooperativeKernel, 9000, cuLaunchCooperativeKernel, cuLaunchCooperativeKernel_ptsz),
	E(cuGraphLaunch, 10000, cuGraphLaunch, cuGraphLaunch_ptsz),
	E(cuStreamBeginCapture, 10010, cuStreamBeginCapture_v2, cuStreamBeginCapture_v2_ptsz),
	E(cuStreamEndCapture, 10000, cuStreamEndCapture, cuStreamEndCapture_ptsz),
	E1(cuGraphInstantiate, 12000, cuGraphInstantiateWithFlags),
	E1(cuGraphInstantiateWithFlags, 11040, cuGraphInstantiateWithFlags),
	E1(cuGraphExecDestroy, 10000, cuGraphExecDestroy),
	E1(cuGraphDestroy, 10000, cuGraphDestroy),
	E1(cuMemAlloc, 3020, cuMemAlloc_v2),
	E(cuMemAllocAsync, 11020, cuMemAllocAsync, cuMemAllocAsync_ptsz),
	E1(cuMemFree, 3020, cuMemFree_v2),
	E(cuMemFreeAsync, 11020, cuMemFreeAsync, cuMemFreeAsync_ptsz),
	E1(cuMemGetAllocationGranularity, 10020, cuMemGetAllocationGranularity),
	E1(cuMemCreate, 10020, cuMemCreate),
	E1(cuMemRelease, 10020, cuMemRelease),
	E1(cuMemAddressReserve, 10020, cuMemAddressReserve),
	E1(cuMemAddressFree, 10020, cuMemAddressFree),
	E1(cuMemMap, 10020, cuMemMap),
	E1(cuMemUnmap, 10020, cuMemUnmap),
};

FC_API CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
				    CUdriverProcAddressQueryResult *symbolStatus)
{
	CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	int r = CUDA_ERROR_NOT_FOUND;
	if (!symbol || !pfn || flags > CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	/* A base name first: it may also be the name of its own default variant. */
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]) && r; i++) {
		const struct proc *p = &procs[i];
		if (strcmp(p->base, symbol) != 0)
			continue;
		if (cudaVersion < p->version) {
			status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
			continue;
		}
		*pfn = flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM ? p->pt : p->def;
		status = CU_GET_PROC_ADDRESS_SUCCESS;
		r = CUDA_SUCCESS;
	}
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]) && r && status != CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT; i++) {
		const struct proc *p = &procs[i];
		if (strcmp(p->def_name, symbol) == 0 || strcmp(p->pt_name, symbol) == 0) {
			*pfn = strcmp(p->def_name, symbol) == 0 ? p->def : p->pt;
			status = CU_GET_PROC_ADDRESS_SUCCESS;
			r = CUDA_SUCCESS;
		}
	}
	if (symbolStatus)
		*symbolStatus = status;
	return r;
}
