//go:build ignore

/* cudriver_script.c: phase 2 of `cudriver script`, the fixed call sequence that the
 * capture tests hold the tracer to. Two threads run it at once, each on its own stream:
 * thread 0 through the legacy-stream table (plain and _v2 symbols, S0 a blocking stream),
 * thread 1 through the per-thread table (_ptsz/_ptds symbols, S1 a non-blocking stream).
 * With g = thread + 1, each thread makes, in this order (doc.go lists the symbols):
 *
 *   cuCtxSetCurrent; cuModuleGetFunction late_kernel_a (thread 1: late_kernel_b);
 *   cuLibraryGetKernel lib_kernel; cuKernelGetFunction; thread 1 only: cuModuleGetFunction
 *   missing_kernel (500); cuEventCreate; cuMemAlloc g MiB; cuMemAllocAsync 3g MiB;
 *   cuMemcpyHtoD 64 KiB (wait 1); launches on S: early_kernel [4g,1,1]x[128,1,1],
 *   late [8g,2,1]x[256,1,1], Ex lib_kernel [16g,1,1]x[64,1,1], cooperative late
 *   [2g,1,1]x[128,1,1]; cuMemcpyHtoDAsync 256 KiB; cuMemcpyAsync 128 KiB; cuEventRecord;
 *   cuEventSynchronize (wait 2); cuStreamBeginCapture; captured launches late [32g,1,1],
 *   early [3g,1,1], Ex lib_kernel [5g,1,1]; cuStreamEndCapture; cuGraphInstantiate;
 *   cuGraphLaunch x3; cuStreamSynchronize S (wait 3); cuMemcpyDtoHAsync 512 KiB;
 *   cuStreamSynchronize S (wait 4); cuMemcpyDtoH 4 KiB (wait 5); early_kernel [6g,1,1] on
 *   the default stream (thread 0: legacy 0, thread 1: CU_STREAM_PER_THREAD) and
 *   cuStreamSynchronize of it (wait 6); thread 0: cuMemAlloc of twice the device memory
 *   (OOM, 2); thread 1: cuMemGetAllocationGranularity, cuMemCreate 2 MiB,
 *   cuMemAddressReserve, cuMemMap, cuMemUnmap, cuMemRelease, cuMemAddressFree;
 *   cuMemFreeAsync; cuMemFree; cuCtxSynchronize (wait 7); cuGraphExecDestroy;
 *   cuGraphDestroy; cuEventDestroy.
 *
 * Phase 1 makes no wait, launch or allocation, so FAKECUDA_FAULT/STALL indices count
 * from phase 2. Calls go on after an error, so an injected fault shows in the report. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cudriver.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

struct worker {
	const struct setup *s;
	struct cu *cu;
	struct recorder rec;
	int k;
};

static void launch(struct worker *w, CUfunction f, const char *kernel, unsigned gx, unsigned gy,
		   unsigned bx, CUstream s)
{
	struct rec *c = rec_new(&w->rec, w->cu->LaunchKernel);
	c->stream = (uint64_t)s, c->handle = (uint64_t)f, c->kernel = kernel;
	c->grid[0] = gx, c->grid[1] = gy, c->grid[2] = 1;
	c->block[0] = bx, c->block[1] = c->block[2] = 1;
	RUN(c, w->cu->LaunchKernel(f, gx, gy, 1, bx, 1, 1, 0, s, NULL, NULL));
}

static void launch_ex(struct worker *w, CUfunction f, const char *kernel, unsigned gx, unsigned bx,
		      CUstream s)
{
	CUlaunchConfig cfg = {.gridDimX = gx, .gridDimY = 1, .gridDimZ = 1, .blockDimX = bx,
			      .blockDimY = 1, .blockDimZ = 1, .hStream = s};
	struct rec *c = rec_new(&w->rec, w->cu->LaunchKernelEx);
	c->stream = (uint64_t)s, c->handle = (uint64_t)f, c->kernel = kernel;
	c->grid[0] = gx, c->grid[1] = c->grid[2] = 1;
	c->block[0] = bx, c->block[1] = c->block[2] = 1;
	RUN(c, w->cu->LaunchKernelEx(&cfg, f, NULL, NULL));
}

static void stream_sync(struct worker *w, CUstream s)
{
	struct rec *c = rec_new(&w->rec, w->cu->StreamSynchronize);
	c->stream = (uint64_t)s;
	RUN(c, w->cu->StreamSynchronize(s));
}

static CUfunction get_function(struct worker *w, const char *name)
{
	CUfunction f = NULL;
	struct rec *c = rec_new(&w->rec, w->cu->ModuleGetFunction);
	c->kernel = name;
	RUN(c, w->cu->ModuleGetFunction(&f, w->s->mod, name));
	c->handle = (uint64_t)f;
	return f;
}

static void alloc_vmm(struct worker *w)
{
	struct cu *cu = w->cu;
	struct rec *c;
	CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
				    .location = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0}};
	size_t gran = 0;
	CUmemGenericAllocationHandle h = 0;
	CUdeviceptr va = 0;
	c = rec_new(&w->rec, cu->MemGetAllocationGranularity);
	RUN(c, cu->MemGetAllocationGranularity(&gran, &prop, 0));
	c->bytes = gran;
	size_t size = gran ? gran : 2 * MIB;
	c = rec_new(&w->rec, cu->MemCreate);
	c->bytes = size;
	RUN(c, cu->MemCreate(&h, size, &prop, 0));
	c->out = h;
	c = rec_new(&w->rec, cu->MemAddressReserve);
	c->bytes = size;
	RUN(c, cu->MemAddressReserve(&va, size, 0, 0, 0));
	c->out = va;
	c = rec_new(&w->rec, cu->MemMap);
	c->addr = va, c->bytes = size, c->handle = h;
	RUN(c, cu->MemMap(va, size, 0, h, 0));
	c = rec_new(&w->rec, cu->MemUnmap);
	c->addr = va, c->bytes = size;
	RUN(c, cu->MemUnmap(va, size));
	c = rec_new(&w->rec, cu->MemRelease);
	c->handle = h;
	RUN(c, cu->MemRelease(h));
	c = rec_new(&w->rec, cu->MemAddressFree);
	c->addr = va, c->bytes = size;
	RUN(c, cu->MemAddressFree(va, size));
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct cu *cu = w->cu;
	const struct setup *su = w->s;
	int k = w->k;
	unsigned g = (unsigned)k + 1;
	CUstream s = su->streams[k];
	CUstream dflt = k ? CU_STREAM_PER_THREAD : NULL;
	const char *late_name = k ? "late_kernel_b" : "late_kernel_a";
	static char host[2][512 * KIB];
	struct rec *c;
	w->rec.tid = (pid_t)syscall(SYS_gettid);

	c = rec_new(&w->rec, cu->CtxSetCurrent);
	RUN(c, cu->CtxSetCurrent(su->ctx));

	CUfunction late = get_function(w, late_name), lf = NULL;
	CUkernel lk = NULL;
	c = rec_new(&w->rec, cu->LibraryGetKernel);
	c->kernel = "lib_kernel";
	RUN(c, cu->LibraryGetKernel(&lk, su->lib, "lib_kernel"));
	c->handle = (uint64_t)lk;
	c = rec_new(&w->rec, cu->KernelGetFunction);
	c->handle = (uint64_t)lk, c->kernel = "lib_kernel";
	RUN(c, cu->KernelGetFunction(&lf, lk));
	c->out = (uint64_t)lf;
	if (k == 1)
		get_function(w, "missing_kernel");

	CUevent ev = NULL;
	c = rec_new(&w->rec, cu->EventCreate);
	RUN(c, cu->EventCreate(&ev, CU_EVENT_DISABLE_TIMING));
	c->handle = (uint64_t)ev;

	CUdeviceptr d1 = 0, d2 = 0;
	c = rec_new(&w->rec, cu->MemAlloc);
	c->bytes = g * MIB;
	RUN(c, cu->MemAlloc(&d1, g * MIB));
	c->out = d1;
	c = rec_new(&w->rec, cu->MemAllocAsync);
	c->bytes = 3 * g * MIB, c->stream = (uint64_t)s;
	RUN(c, cu->MemAllocAsync(&d2, 3 * g * MIB, s));
	c->out = d2;

	c = rec_new(&w->rec, cu->MemcpyHtoD);
	c->addr = d1, c->bytes = 64 * KIB;
	RUN(c, cu->MemcpyHtoD(d1, host[k], 64 * KIB));

	launch(w, su->early, "early_kernel", 4 * g, 1, 128, s);
	launch(w, late, late_name, 8 * g, 2, 256, s);
	launch_ex(w, lf, "lib_kernel", 16 * g, 64, s);
	c = rec_new(&w->rec, cu->LaunchCooperativeKernel);
	c->stream = (uint64_t)s, c->handle = (uint64_t)late, c->kernel = late_name;
	c->grid[0] = 2 * g, c->grid[1] = c->grid[2] = 1, c->block[0] = 128, c->block[1] = c->block[2] = 1;
	RUN(c, cu->LaunchCooperativeKernel(late, 2 * g, 1, 1, 128, 1, 1, 0, s, NULL));

	c = rec_new(&w->rec, cu->MemcpyHtoDAsync);
	c->addr = d2, c->bytes = 256 * KIB, c->stream = (uint64_t)s;
	RUN(c, cu->MemcpyHtoDAsync(d2, host[k], 256 * KIB, s));
	c = rec_new(&w->rec, cu->MemcpyAsync);
	c->addr = d2, c->bytes = 128 * KIB, c->stream = (uint64_t)s;
	RUN(c, cu->MemcpyAsync(d2, d1, 128 * KIB, s));
	c = rec_new(&w->rec, cu->EventRecord);
	c->handle = (uint64_t)ev, c->stream = (uint64_t)s;
	RUN(c, cu->EventRecord(ev, s));
	c = rec_new(&w->rec, cu->EventSynchronize);
	c->handle = (uint64_t)ev;
	RUN(c, cu->EventSynchronize(ev));

	CUgraph graph = NULL;
	CUgraphExec exec = NULL;
	c = rec_new(&w->rec, cu->StreamBeginCapture);
	c->stream = (uint64_t)s;
	RUN(c, cu->StreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
	launch(w, late, late_name, 32 * g, 1, 256, s);
	launch(w, su->early, "early_kernel", 3 * g, 1, 128, s);
	launch_ex(w, lf, "lib_kernel", 5 * g, 64, s);
	c = rec_new(&w->rec, cu->StreamEndCapture);
	c->stream = (uint64_t)s;
	RUN(c, cu->StreamEndCapture(s, &graph));
	c->out = (uint64_t)graph;
	c = rec_new(&w->rec, cu->GraphInstantiate);
	RUN(c, cu->GraphInstantiate(&exec, graph, 0));
	c->handle = (uint64_t)exec;
	for (int i = 0; i < 3; i++) {
		c = rec_new(&w->rec, cu->GraphLaunch);
		c->handle = (uint64_t)exec, c->stream = (uint64_t)s;
		RUN(c, cu->GraphLaunch(exec, s));
	}
	stream_sync(w, s);

	c = rec_new(&w->rec, cu->MemcpyDtoHAsync);
	c->addr = d2, c->bytes = 512 * KIB, c->stream = (uint64_t)s;
	RUN(c, cu->MemcpyDtoHAsync(host[k], d2, 512 * KIB, s));
	stream_sync(w, s);
	c = rec_new(&w->rec, cu->MemcpyDtoH);
	c->addr = d1, c->bytes = 4 * KIB;
	RUN(c, cu->MemcpyDtoH(host[k], d1, 4 * KIB));

	launch(w, su->early, "early_kernel", 6 * g, 1, 128, dflt);
	stream_sync(w, dflt);

	if (k == 0) {
		CUdeviceptr big = 0;
		c = rec_new(&w->rec, cu->MemAlloc);
		c->bytes = 2 * (uint64_t)su->total_mem;
		RUN(c, cu->MemAlloc(&big, 2 * su->total_mem));
		c->out = big;
	} else {
		alloc_vmm(w);
	}

	c = rec_new(&w->rec, cu->MemFreeAsync);
	c->addr = d2, c->stream = (uint64_t)s;
	RUN(c, cu->MemFreeAsync(d2, s));
	c = rec_new(&w->rec, cu->MemFree);
	c->addr = d1;
	RUN(c, cu->MemFree(d1));
	c = rec_new(&w->rec, cu->CtxSynchronize);
	RUN(c, cu->CtxSynchronize());

	c = rec_new(&w->rec, cu->GraphExecDestroy);
	c->handle = (uint64_t)exec;
	RUN(c, cu->GraphExecDestroy(exec));
	c = rec_new(&w->rec, cu->GraphDestroy);
	c->out = (uint64_t)graph;
	RUN(c, cu->GraphDestroy(graph));
	c = rec_new(&w->rec, cu->EventDestroy);
	c->handle = (uint64_t)ev;
	RUN(c, cu->EventDestroy(ev));
	return NULL;
}

int script_run(const struct setup *s, struct cu *per_thread, const char *report)
{
	struct worker w[2] = {
		{.s = s, .cu = &cu_legacy, .rec = {.thread = 0}, .k = 0},
		{.s = s, .cu = per_thread, .rec = {.thread = 1}, .k = 1},
	};
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&t[i], NULL, run, &w[i])) {
			perror("cudriver: pthread_create");
			return -1;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	struct recorder rs[2] = {w[0].rec, w[1].rec};
	return report_write(report, rs, 2);
}
