//go:build ignore

/* api_stream.c: streams, events and the blocking waits on them. A wait counts in the
 * wait class (FAKECUDA_FAULT/STALL "wait:N"), computes under fc_lock the time the work it
 * waits for completes, and sleeps until then without the lock. */
#include "api.h"
#include "internal.h"

FC_API CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s = NULL;
	if (!phStream || (Flags & ~CU_STREAM_NON_BLOCKING))
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(s = obj_new(OBJ_STREAM)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else {
		s->flags = Flags & CU_STREAM_NON_BLOCKING ? STREAM_NONBLOCKING : 0;
		stream_link(s);
		*phStream = (CUstream)s;
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuStreamDestroy_v2(CUstream hStream)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s = obj_get(hStream, OBJ_STREAM);
	if (!s)
		r = CUDA_ERROR_INVALID_HANDLE;
	else {
		if (s->u.stream.capture)
			obj_free(s->u.stream.capture);
		stream_unlink(s);
		obj_free(s);
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int stream_query(CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s;
	if (!(r = stream_resolve(h, ptsz, &s)))
		r = stream_ready(s) > now_ns() ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuStreamQuery(CUstream hStream)
{
	return stream_query(hStream, 0);
}

FC_API CUresult cuStreamQuery_ptsz(CUstream hStream)
{
	return stream_query(hStream, 1);
}

static int stream_sync(CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_WAIT, &c);
	if (r)
		return r;
	struct obj *s;
	uint64_t target = 0;
	if (!(r = stream_resolve(h, ptsz, &s))) {
		if (s->u.stream.capture) {
			/* Synchronizing a capturing stream is illegal and ruins the capture. */
			s->u.stream.capture_bad = 1;
			r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		} else
			target = stream_ready(s);
	}
	pthread_mutex_unlock(&fc_lock);
	return r ? r : wait_for(target, &c);
}

FC_API CUresult cuStreamSynchronize(CUstream hStream)
{
	return stream_sync(hStream, 0);
}

FC_API CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
	return stream_sync(hStream, 1);
}

FC_API CUresult cuCtxSynchronize(void)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_WAIT, &c);
	if (r)
		return r;
	uint64_t target = device_done();
	pthread_mutex_unlock(&fc_lock);
	return wait_for(target, &c);
}

FC_API CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *e = NULL;
	if (!phEvent || (Flags & ~0xfu))
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!(e = obj_new(OBJ_EVENT)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else {
		e->flags = Flags;
		*phEvent = (CUevent)e;
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuEventDestroy_v2(CUevent hEvent)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *e = obj_get(hEvent, OBJ_EVENT);
	if (!e)
		r = CUDA_ERROR_INVALID_HANDLE;
	else
		obj_free(e);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int event_record(CUevent hEvent, CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *e = obj_get(hEvent, OBJ_EVENT), *s;
	if (!e)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!(r = stream_resolve(h, ptsz, &s)) && !s->u.stream.capture)
		e->u.event.done = stream_ready(s); /* a record inside a capture is a graph node */
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	return event_record(hEvent, hStream, 0);
}

FC_API CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
	return event_record(hEvent, hStream, 1);
}

FC_API CUresult cuEventQuery(CUevent hEvent)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *e = obj_get(hEvent, OBJ_EVENT);
	if (!e)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (e->u.event.done > now_ns())
		r = CUDA_ERROR_NOT_READY;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuEventSynchronize(CUevent hEvent)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_WAIT, &c);
	if (r)
		return r;
	struct obj *e = obj_get(hEvent, OBJ_EVENT);
	uint64_t target = e ? e->u.event.done : 0;
	pthread_mutex_unlock(&fc_lock);
	return e ? wait_for(target, &c) : CUDA_ERROR_INVALID_HANDLE;
}
