/* fakecuda.h: what the simulated driver tells its own workload program (cudriver) about
 * the call the calling thread just made, beyond the CUDA API: the ground truth that the
 * capture tests compare the tracer's events with. Not part of the CUDA API; the symbol is
 * named fakecuda* so no probe table matches it. */
#ifndef FAKECUDA_FAKECUDA_H
#define FAKECUDA_FAKECUDA_H

#include <stdint.h>

/* The class a call is counted in by FAKECUDA_FAULT and FAKECUDA_STALL. */
enum fakecuda_class {
	FAKECUDA_CLASS_NONE = 0,
	FAKECUDA_CLASS_WAIT = 1,   /* stream/event/ctx synchronize, synchronous memcpy */
	FAKECUDA_CLASS_LAUNCH = 2, /* kernel launches (captured ones too) and graph launches */
	FAKECUDA_CLASS_ALLOC = 3,  /* cuMemAlloc_v2, cuMemAllocAsync, cuMemCreate */
	FAKECUDA_CLASS_COPY = 4,   /* async copies: cost_ns is the queued copy time */
};

struct fakecuda_last {
	uint32_t cls;       /* enum fakecuda_class of the last counted call, 0 if none */
	uint32_t captured;  /* the launch or copy was recorded into a graph being captured */
	uint64_t seq;       /* 1-based index of the call in its class, over the process */
	uint64_t cost_ns;   /* launches and copies: GPU time the call queued */
	uint64_t target_ns; /* waits: CLOCK_MONOTONIC time the wait blocked until (0: nothing) */
	uint64_t stall_ns;  /* waits: injected extra block (FAKECUDA_STALL), included in target_ns */
};

/* fakecudaLastCall copies the calling thread's record of its last counted call into out
 * and clears it. */
typedef void (*fakecudaLastCall_fn)(struct fakecuda_last *out);

#endif
