//go:build ignore

/* cudriver_selftest.c: `cudriver selftest`, checks of the simulation the script does not
 * reach: legacy/blocking/non-blocking stream ordering, the per-thread stream, queries,
 * capture errors, bad handles, memory accounting, the context a new thread lacks. The
 * kernel "selftest_slow" costs 2 ms (cudriver.c sets FAKECUDA_COST). Prints one line per
 * failed check and "selftest checked N bad M". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cudriver.h"

#define SLOW_NS 20000000ull

static int checked, bad;

static void expect(int ok, const char *what, long long got)
{
	checked++;
	if (!ok) {
		bad++;
		printf("FAIL %s (got %lld)\n", what, got);
	}
}

#define EXPECT_R(call, want) \
	do { \
		int r_ = (call); \
		expect(r_ == (want), #call " == " #want, r_); \
	} while (0)

/* timed returns how long call took. */
#define TIMED(call, r) ({ uint64_t t0_ = mono_ns(); r = (call); mono_ns() - t0_; })

static void *no_context(void *arg)
{
	CUstream s;
	*(int *)arg = cu_legacy.StreamCreate(&s, 0);
	return NULL;
}

int selftest_run(const struct setup *su)
{
	struct cu *cu = &cu_legacy;
	__typeof__(&cuStreamQuery) query = api_sym("cuStreamQuery");
	__typeof__(&cuEventQuery) equery = api_sym("cuEventQuery");
	__typeof__(&cuLaunchKernel_ptsz) launch_pt = api_sym("cuLaunchKernel_ptsz");
	__typeof__(&cuStreamSynchronize_ptsz) sync_pt = api_sym("cuStreamSynchronize_ptsz");
	CUstream blocking = su->streams[0], nonblocking = su->streams[1];
	CUfunction slow;
	CUevent ev;
	CUgraph g = (CUgraph)1;
	uint64_t d;
	int r;
	if (check("cuModuleGetFunction selftest_slow", cu->ModuleGetFunction(&slow, su->mod, "selftest_slow")) ||
	    check("cuEventCreate", cu->EventCreate(&ev, 0)))
		return -1;
#define SLOW(stream) cu->LaunchKernel(slow, 1, 1, 1, 32, 1, 1, 0, (stream), NULL, NULL)

	/* Work on a blocking stream holds up the legacy stream, not a non-blocking one. */
	EXPECT_R(SLOW(blocking), 0);
	EXPECT_R(query(blocking), CUDA_ERROR_NOT_READY);
	EXPECT_R(query(NULL), CUDA_ERROR_NOT_READY);
	EXPECT_R(query(nonblocking), 0);
	d = TIMED(cu->StreamSynchronize(NULL), r);
	expect(r == 0 && d >= SLOW_NS * 9 / 10, "legacy sync waits for the blocking stream", (long long)d);
	EXPECT_R(SLOW(nonblocking), 0);
	d = TIMED(cu->StreamSynchronize(CU_STREAM_LEGACY), r);
	expect(r == 0 && d < SLOW_NS / 2, "legacy sync ignores the non-blocking stream", (long long)d);
	d = TIMED(cu->StreamSynchronize(nonblocking), r);
	expect(r == 0 && d >= SLOW_NS / 4, "non-blocking stream sync waits for its work", (long long)d);

	/* Work on the legacy stream holds up later work on a blocking stream. */
	EXPECT_R(SLOW(NULL), 0);
	EXPECT_R(cu->LaunchKernel(slow, 1, 1, 1, 32, 1, 1, 0, blocking, NULL, NULL), 0);
	d = TIMED(cu->StreamSynchronize(blocking), r);
	expect(r == 0 && d >= 2 * SLOW_NS * 9 / 10, "blocking stream queues after the legacy stream", (long long)d);

	/* The per-thread default stream: 0 in a _ptsz call. */
	EXPECT_R(launch_pt(slow, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), 0);
	EXPECT_R(query(CU_STREAM_PER_THREAD), CUDA_ERROR_NOT_READY);
	d = TIMED(sync_pt(NULL), r);
	expect(r == 0 && d >= SLOW_NS * 9 / 10, "per-thread stream sync waits for its work", (long long)d);

	/* Events. */
	EXPECT_R(SLOW(nonblocking), 0);
	EXPECT_R(cu->EventRecord(ev, nonblocking), 0);
	EXPECT_R(equery(ev), CUDA_ERROR_NOT_READY);
	EXPECT_R(cu->EventSynchronize(ev), 0);
	EXPECT_R(equery(ev), 0);

	/* Capture: no sync inside, which ruins it; the legacy stream cannot capture. */
	EXPECT_R(cu->StreamBeginCapture(nonblocking, CU_STREAM_CAPTURE_MODE_GLOBAL), 0);
	EXPECT_R(cu->StreamBeginCapture(nonblocking, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_ILLEGAL_STATE);
	EXPECT_R(SLOW(nonblocking), 0);
	d = TIMED(cu->StreamSynchronize(nonblocking), r);
	expect(r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED && d < SLOW_NS / 2, "sync during capture fails at once", r);
	EXPECT_R(cu->StreamEndCapture(nonblocking, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	expect(g == NULL, "invalidated capture gives no graph", (long long)(uintptr_t)g);
	EXPECT_R(cu->StreamEndCapture(nonblocking, &g), CUDA_ERROR_ILLEGAL_STATE);
	EXPECT_R(cu->StreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	EXPECT_R(query(nonblocking), 0); /* the captured launch never ran */

	/* Bad handles and arguments. */
	EXPECT_R(cu->LaunchKernel((CUfunction)0x1234, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_R(cu->LaunchKernel((CUfunction)ev, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_R(cu->LaunchKernel(slow, 1, 1, 1, 2048, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	EXPECT_R(cu->StreamSynchronize((CUstream)0xdead0000), CUDA_ERROR_INVALID_HANDLE);
	EXPECT_R(cu->LaunchCooperativeKernel(slow, 100000, 1, 1, 32, 1, 1, 0, NULL, NULL),
		 CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
	EXPECT_R(cu->MemFree(0x1000), CUDA_ERROR_INVALID_VALUE);

	/* Memory accounting. */
	size_t free0, free1, free2, total;
	CUdeviceptr p;
	EXPECT_R(cu->MemGetInfo(&free0, &total), 0);
	EXPECT_R(cu->MemAlloc(&p, 12345), 0);
	EXPECT_R(cu->MemGetInfo(&free1, &total), 0);
	EXPECT_R(cu->MemFree(p), 0);
	EXPECT_R(cu->MemGetInfo(&free2, &total), 0);
	expect(free0 - free1 == 12345 && free2 == free0 && total == su->total_mem, "alloc and free move free memory",
	       (long long)(free0 - free1));
	EXPECT_R(cu->MemAlloc(&p, free0 + 1), CUDA_ERROR_OUT_OF_MEMORY);

	/* Error names. */
	const char *name = NULL;
	EXPECT_R(cu->GetErrorName(700, &name), 0);
	expect(name && strcmp(name, "CUDA_ERROR_ILLEGAL_ADDRESS") == 0, "cuGetErrorName(700)", 0);
	EXPECT_R(cu->GetErrorName(12345, &name), CUDA_ERROR_INVALID_VALUE);

	/* A thread that never made a context current has none. */
	pthread_t t;
	r = -1;
	pthread_create(&t, NULL, no_context, &r);
	pthread_join(t, NULL);
	expect(r == CUDA_ERROR_INVALID_CONTEXT, "a new thread has no current context", r);

	printf("selftest checked %d bad %d\n", checked, bad);
	return bad ? -1 : 0;
}
