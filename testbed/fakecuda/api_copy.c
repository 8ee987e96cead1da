//go:build ignore

/* api_copy.c: memory copies. A copy costs bytes / FAKECUDA_COPY_GBPS on the GPU timeline.
 * Synchronous copies queue on the legacy stream (on the calling thread's default stream
 * for _ptds) and wait for it, so they count as waits; async copies queue on their stream
 * (or into the graph it captures) and return. No bytes move: the device has no storage. */
#include "api.h"
#include "internal.h"

static int copy_sync(int ok, size_t bytes, int ptds)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_WAIT, &c);
	if (r)
		return r;
	struct obj *s;
	uint64_t target = 0;
	if (!ok)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(r = stream_resolve(NULL, ptds, &s))) {
		if (s->u.stream.capture) {
			s->u.stream.capture_bad = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		} else
			target = stream_enqueue(s, copy_cost_ns(bytes));
	}
	pthread_mutex_unlock(&fc_lock);
	return r ? r : wait_for(target, &c);
}

FC_API CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(!ByteCount || (dstHost && srcDevice), ByteCount, 0);
}

FC_API CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	return copy_sync(!ByteCount || (dstHost && srcDevice), ByteCount, 1);
}

FC_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return copy_sync(!ByteCount || (dstDevice && srcHost), ByteCount, 0);
}

FC_API CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	return copy_sync(!ByteCount || (dstDevice && srcHost), ByteCount, 1);
}

static int copy_async(int ok, size_t bytes, CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_COPY, &c);
	if (r)
		return r;
	struct obj *s;
	if (!ok)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(r = stream_resolve(h, ptsz, &s)))
		queue_work(s, copy_cost_ns(bytes));
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	return copy_async(!ByteCount || (dst && src), ByteCount, hStream, 0);
}

FC_API CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
	return copy_async(!ByteCount || (dst && src), ByteCount, hStream, 1);
}

FC_API CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
				     CUstream hStream)
{
	return copy_async(!ByteCount || (dstHost && srcDevice), ByteCount, hStream, 0);
}

FC_API CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
					  CUstream hStream)
{
	return copy_async(!ByteCount || (dstHost && srcDevice), ByteCount, hStream, 1);
}

FC_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
				     CUstream hStream)
{
	return copy_async(!ByteCount || (dstDevice && srcHost), ByteCount, hStream, 0);
}

FC_API CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
					  CUstream hStream)
{
	return copy_async(!ByteCount || (dstDevice && srcHost), ByteCount, hStream, 1);
}
