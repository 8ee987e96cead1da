//go:build ignore

/* fakecuda.c: a simulated CUDA driver (libcuda.so.1) for testing inferprobe's capture
 * without a GPU. It exports the driver API entry points the tracer probes, with cuda.h's
 * signatures, and simulates one device: per-stream timelines driven by a kernel cost
 * model, blocking waits that end at the simulated completion time, graph capture,
 * memory accounting and injected faults (config.c lists the environment knobs).
 *
 * This file: initialization, the device, contexts, error strings and the common entry
 * check. Streams and waits: api_stream.c; copies: api_copy.c; launches and graphs:
 * api_launch.c; modules and names: api_module.c; memory: api_mem.c; cuGetProcAddress:
 * procaddr.c. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "internal.h"

static int initialized;
static struct obj *primary;        /* the device's primary context */
static __thread struct obj *cur_ctx; /* the calling thread's current context */

FC_HELPER int init_check(void)
{
	if (!__atomic_load_n(&initialized, __ATOMIC_ACQUIRE))
		return CUDA_ERROR_NOT_INITIALIZED;
	return atomic_load_explicit((_Atomic int *)&fc_sticky, memory_order_acquire);
}

int api_enter(uint32_t cls, struct call *c)
{
	pthread_mutex_lock(&fc_lock);
	if (cls)
		count_call(cls, &c->fault, &c->stall_ms);
	else
		c->fault = c->stall_ms = 0;
	int r = CUDA_SUCCESS;
	if (!initialized)
		r = CUDA_ERROR_NOT_INITIALIZED;
	else if ((r = atomic_load_explicit((_Atomic int *)&fc_sticky, memory_order_acquire)))
		;
	else if (!cur_ctx || cur_ctx->kind != OBJ_CTX)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r)
		pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuInit(unsigned int Flags)
{
	if (Flags)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&fc_lock);
	int r = CUDA_SUCCESS;
	if (!initialized) {
		r = config_load();
		if (!r && !(fc_legacy = obj_new(OBJ_STREAM)))
			r = CUDA_ERROR_OUT_OF_MEMORY;
		if (!r) {
			fc_legacy->flags = STREAM_LEGACY;
			stream_link(fc_legacy);
			__atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static FC_HELPER int driver_version(int *v)
{
	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	*v = DRIVER_VERSION;
	return CUDA_SUCCESS;
}

FC_API CUresult cuDriverGetVersion(int *driverVersion)
{
	return driver_version(driverVersion);
}

FC_API CUresult cuDeviceGetCount(int *count)
{
	int r = init_check();
	if (r)
		return r;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = 1;
	return CUDA_SUCCESS;
}

FC_API CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	int r = init_check();
	if (r)
		return r;
	if (!device)
		return CUDA_ERROR_INVALID_VALUE;
	if (ordinal != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*device = 0;
	return CUDA_SUCCESS;
}

FC_API CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	int r = init_check();
	if (r)
		return r;
	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	snprintf(name, (size_t)len, "%s", DEVICE_NAME);
	return CUDA_SUCCESS;
}

FC_API CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	int r = init_check();
	if (r)
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	*bytes = fc_cfg.mem_bytes;
	return CUDA_SUCCESS;
}

FC_API CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	int r = init_check();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	(void)flags;
	pthread_mutex_lock(&fc_lock);
	struct obj *c = obj_new(OBJ_CTX);
	pthread_mutex_unlock(&fc_lock);
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	cur_ctx = c;
	*pctx = (CUcontext)c;
	return CUDA_SUCCESS;
}

FC_API CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	int r = init_check();
	if (r)
		return r;
	pthread_mutex_lock(&fc_lock);
	struct obj *c = obj_get(ctx, OBJ_CTX);
	if (!c || c == primary)
		r = CUDA_ERROR_INVALID_CONTEXT;
	else
		obj_free(c);
	pthread_mutex_unlock(&fc_lock);
	if (!r && cur_ctx == c)
		cur_ctx = NULL;
	return r;
}

FC_API CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	int r = init_check();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&fc_lock);
	if (!primary)
		primary = obj_new(OBJ_CTX);
	if (primary)
		primary->flags++; /* retain count */
	pthread_mutex_unlock(&fc_lock);
	if (!primary)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*pctx = (CUcontext)primary;
	return CUDA_SUCCESS;
}

FC_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	int r = init_check();
	if (r)
		return r;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&fc_lock);
	if (!primary || !primary->flags)
		r = CUDA_ERROR_INVALID_CONTEXT;
	else
		primary->flags--; /* the primary context stays usable, as after a reset */
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuCtxSetCurrent(CUcontext ctx)
{
	int r = init_check();
	if (r)
		return r;
	if (ctx) {
		pthread_mutex_lock(&fc_lock);
		struct obj *c = obj_get(ctx, OBJ_CTX);
		pthread_mutex_unlock(&fc_lock);
		if (!c)
			return CUDA_ERROR_INVALID_CONTEXT;
	}
	cur_ctx = (struct obj *)ctx;
	return CUDA_SUCCESS;
}

FC_API CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	int r = init_check();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = (CUcontext)cur_ctx;
	return CUDA_SUCCESS;
}

FC_API CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	if (!free_bytes || !total)
		r = CUDA_ERROR_INVALID_VALUE;
	else
		mem_info(free_bytes, total);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API void fakecudaLastCall(struct fakecuda_last *out)
{
	*out = fc_last;
	memset(&fc_last, 0, sizeof(fc_last));
}
