//go:build ignore

/* api_mem.c: the memory entry points. cuMemAlloc_v2, cuMemAllocAsync and cuMemCreate
 * count in the alloc class (FAKECUDA_FAULT "alloc:N:code" fails the Nth with code and
 * allocates nothing) and fail with CUDA_ERROR_OUT_OF_MEMORY past FAKECUDA_MEM_BYTES.
 * Stream-ordered allocations and frees take effect at once. */
#include "api.h"
#include "internal.h"

#define GRANULARITY (2ull << 20)

/* alloc_enter counts an allocation and returns its injected fault or entry error, holding
 * fc_lock only on 0. */
static int alloc_enter(void)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_ALLOC, &c);
	if (!r && c.fault) {
		pthread_mutex_unlock(&fc_lock);
		r = (int)c.fault;
		set_sticky(r);
	}
	return r;
}

FC_API CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	int r = alloc_enter();
	if (r)
		return r;
	r = dptr ? mem_alloc(bytesize, dptr) : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int alloc_async(CUdeviceptr *dptr, size_t bytesize, CUstream h, int ptsz)
{
	int r = alloc_enter();
	if (r)
		return r;
	struct obj *s;
	if (!dptr)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(r = stream_resolve(h, ptsz, &s)))
		r = mem_alloc(bytesize, dptr);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, hStream, 0);
}

FC_API CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	return alloc_async(dptr, bytesize, hStream, 1);
}

FC_API CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	r = mem_free(dptr);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int free_async(CUdeviceptr dptr, CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s;
	if (!(r = stream_resolve(h, ptsz, &s)))
		r = dptr ? mem_free(dptr) : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	return free_async(dptr, hStream, 0);
}

FC_API CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	return free_async(dptr, hStream, 1);
}

static int check_prop(const CUmemAllocationProp *prop)
{
	if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE || prop->location.id != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	return CUDA_SUCCESS;
}

FC_API CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
					      int option)
{
	int r = init_check();
	if (r)
		return r;
	if (!granularity || option < 0 || option > 1)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = check_prop(prop)))
		return r;
	*granularity = GRANULARITY;
	return CUDA_SUCCESS;
}

FC_API CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
			    const CUmemAllocationProp *prop, unsigned long long flags)
{
	int r = alloc_enter();
	if (r)
		return r;
	if (!handle || flags)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(r = check_prop(prop)))
		r = mem_create(size, handle);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	r = mem_release(handle);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
				    unsigned long long flags)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	(void)addr; /* a hint */
	r = ptr && !flags ? mem_reserve(size, alignment, ptr) : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	r = mem_unreserve(ptr, size);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
			 unsigned long long flags)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	r = flags ? CUDA_ERROR_INVALID_VALUE : mem_map(ptr, size, offset, handle);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	r = mem_unmap(ptr, size);
	pthread_mutex_unlock(&fc_lock);
	return r;
}
