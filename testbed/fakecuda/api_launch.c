//go:build ignore

/* api_launch.c: kernel launches, stream capture and graphs. A launch returns at once: it
 * queues cost_ns = base_ns + per_block_ns * gridX*gridY*gridZ of the kernel's name on its
 * stream, or adds it to the graph when the stream is capturing (the kernel does not run).
 * A graph launch queues the total cost of what was captured into it. Launches count in
 * the launch class (FAKECUDA_FAULT "launch:N:code" returns code and queues nothing;
 * FAKECUDA_STALL "launch:N:MS" makes that work MS ms longer). */
#include "api.h"
#include "internal.h"

#define MAX_BLOCK_THREADS 1024
#define MAX_COOPERATIVE_BLOCKS (132 * 32) /* SMs x resident blocks per SM */

struct launch {
	const void *f;
	unsigned int grid[3], block[3];
	CUstream stream;
	int cooperative;
	int bad; /* the arguments were invalid before any handle was looked at */
};

static int launch(const struct launch *l, int ptsz)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_LAUNCH, &c);
	if (r)
		return r;
	struct obj *fn = fn_get(l->f), *s;
	uint64_t blocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
	uint64_t threads = (uint64_t)l->block[0] * l->block[1] * l->block[2];
	if (l->bad)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!fn)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!blocks || !threads || threads > MAX_BLOCK_THREADS)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (l->cooperative && blocks > MAX_COOPERATIVE_BLOCKS)
		r = CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
	else if (!(r = stream_resolve(l->stream, ptsz, &s))) {
		if (c.fault)
			r = (int)c.fault;
		else
			queue_work(s, fn->u.fn.base_ns + fn->u.fn.per_block_ns * blocks +
					      c.stall_ms * 1000000ull);
	}
	pthread_mutex_unlock(&fc_lock);
	if (r)
		set_sticky(r);
	return r;
}

#define LAUNCH_ARGS                                                                             \
	CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,    \
		unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,         \
		unsigned int sharedMemBytes, CUstream hStream
#define LAUNCH_INIT(coop)                                                                       \
	{                                                                                       \
		.f = f, .grid = {gridDimX, gridDimY, gridDimZ},                                \
		.block = {blockDimX, blockDimY, blockDimZ}, .stream = hStream, .cooperative = coop \
	}

FC_API CUresult cuLaunchKernel(LAUNCH_ARGS, void **kernelParams, void **extra)
{
	struct launch l = LAUNCH_INIT(0);
	(void)sharedMemBytes, (void)kernelParams, (void)extra;
	return launch(&l, 0);
}

FC_API CUresult cuLaunchKernel_ptsz(LAUNCH_ARGS, void **kernelParams, void **extra)
{
	struct launch l = LAUNCH_INIT(0);
	(void)sharedMemBytes, (void)kernelParams, (void)extra;
	return launch(&l, 1);
}

FC_API CUresult cuLaunchCooperativeKernel(LAUNCH_ARGS, void **kernelParams)
{
	struct launch l = LAUNCH_INIT(1);
	(void)sharedMemBytes, (void)kernelParams;
	return launch(&l, 0);
}

FC_API CUresult cuLaunchCooperativeKernel_ptsz(LAUNCH_ARGS, void **kernelParams)
{
	struct launch l = LAUNCH_INIT(1);
	(void)sharedMemBytes, (void)kernelParams;
	return launch(&l, 1);
}

static int launch_ex(const CUlaunchConfig *config, CUfunction f, int ptsz)
{
	struct launch l = {.f = f, .bad = !config || (config->numAttrs && !config->attrs)};
	if (l.bad)
		return launch(&l, ptsz);
	l = (struct launch){
		.f = f,
		.grid = {config->gridDimX, config->gridDimY, config->gridDimZ},
		.block = {config->blockDimX, config->blockDimY, config->blockDimZ},
		.stream = config->hStream,
	};
	for (unsigned int i = 0; i < config->numAttrs; i++)
		if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE)
			l.cooperative = config->attrs[i].value.cooperative;
	return launch(&l, ptsz);
}

FC_API CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
				 void **extra)
{
	(void)kernelParams, (void)extra;
	return launch_ex(config, f, 0);
}

FC_API CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
				      void **extra)
{
	(void)kernelParams, (void)extra;
	return launch_ex(config, f, 1);
}

static int graph_launch(CUgraphExec hGraphExec, CUstream h, int ptsz)
{
	struct call c;
	int r = api_enter(FAKECUDA_CLASS_LAUNCH, &c);
	if (r)
		return r;
	struct obj *x = obj_get(hGraphExec, OBJ_GRAPHEXEC), *s;
	if (!x)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!(r = stream_resolve(h, ptsz, &s))) {
		if (c.fault)
			r = (int)c.fault;
		else
			queue_work(s, x->u.graph.cost_ns + c.stall_ms * 1000000ull);
	}
	pthread_mutex_unlock(&fc_lock);
	if (r)
		set_sticky(r);
	return r;
}

FC_API CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
	return graph_launch(hGraphExec, hStream, 0);
}

FC_API CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
	return graph_launch(hGraphExec, hStream, 1);
}

static int begin_capture(CUstream h, CUstreamCaptureMode mode, int ptsz)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s;
	if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED)
		r = CUDA_ERROR_INVALID_VALUE;
	else if ((r = stream_resolve(h, ptsz, &s)))
		;
	else if (s->flags & STREAM_LEGACY)
		r = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* the legacy stream cannot capture */
	else if (s->u.stream.capture)
		r = CUDA_ERROR_ILLEGAL_STATE;
	else if (!(s->u.stream.capture = obj_new(OBJ_GRAPH)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else
		s->u.stream.capture_bad = 0;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
	return begin_capture(hStream, mode, 0);
}

FC_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
	return begin_capture(hStream, mode, 1);
}

static int end_capture(CUstream h, CUgraph *phGraph, int ptsz)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *s;
	if (!phGraph)
		r = CUDA_ERROR_INVALID_VALUE;
	else if ((r = stream_resolve(h, ptsz, &s)))
		;
	else if (!s->u.stream.capture)
		r = CUDA_ERROR_ILLEGAL_STATE;
	else {
		struct obj *g = s->u.stream.capture;
		s->u.stream.capture = NULL;
		if (s->u.stream.capture_bad) {
			obj_free(g);
			*phGraph = NULL;
			r = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
		} else
			*phGraph = (CUgraph)g;
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
	return end_capture(hStream, phGraph, 0);
}

FC_API CUresult cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph)
{
	return end_capture(hStream, phGraph, 1);
}

FC_API CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
					    unsigned long long flags)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *g = obj_get(hGraph, OBJ_GRAPH), *x = NULL;
	if (!phGraphExec || flags > 0xf)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!g)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!(x = obj_new(OBJ_GRAPHEXEC)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else {
		x->u.graph = g->u.graph;
		*phGraphExec = (CUgraphExec)x;
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int destroy(const void *h, uint32_t kind)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *o = obj_get(h, kind);
	if (!o)
		r = CUDA_ERROR_INVALID_HANDLE;
	else
		obj_free(o);
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
{
	return destroy(hGraphExec, OBJ_GRAPHEXEC);
}

FC_API CUresult cuGraphDestroy(CUgraph hGraph)
{
	return destroy(hGraph, OBJ_GRAPH);
}
