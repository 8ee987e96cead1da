//go:build ignore

/* cudriver_loop.c: `cudriver loop SECONDS [SUMMARY.json]`, a steady decode-like workload
 * for tests of a process that starts after the tracer or exits while traced. Before
 * "ready" it sets up (cudriver.c), looks up its kernels and captures a graph of 32
 * launches (loop_attn [512,1,1] and loop_mlp [512,1,1] alternating); it does not wait
 * for stdin. Then, until SECONDS have passed, each step on stream S0 is:
 *   cuLaunchKernel loop_embed [64,1,1]; cuGraphLaunch; cuLaunchKernel loop_sample [8,1,1];
 *   cuMemcpyDtoHAsync 4 KiB; cuStreamSynchronize; a 200 us host gap;
 * and every 16th step also cuMemAllocAsync 1 MiB, cuEventRecord, cuEventSynchronize,
 * cuMemFreeAsync. SUMMARY.json, when given, counts the calls by exported symbol. */
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cudriver.h"

#define GRAPH_LAUNCHES 32

struct tally {
	const char *symbol[16];
	unsigned long count[16];
	int n;
};

static int count(struct tally *t, const void *fn, int r)
{
	const char *sym = api_symbol(fn);
	int i = 0;
	while (i < t->n && strcmp(t->symbol[i], sym) != 0)
		i++;
	if (i == t->n && t->n < 16)
		t->symbol[t->n++] = sym;
	if (i < 16)
		t->count[i]++;
	return r;
}

#define DO(t, fn, ...) count((t), (const void *)(fn), (fn)(__VA_ARGS__))

static int write_summary(const char *path, unsigned long steps, const struct tally *t)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\"pid\":%d,\"tid\":%ld,\"steps\":%lu,\"calls\":{", (int)getpid(), (long)syscall(SYS_gettid),
		steps);
	for (int i = 0; i < t->n; i++)
		fprintf(f, "%s\"%s\":%lu", i ? "," : "", t->symbol[i], t->count[i]);
	fprintf(f, "}}\n");
	return fclose(f) ? -1 : 0;
}

int loop_run(const struct setup *s, double seconds, const char *summary)
{
	struct cu *cu = &cu_legacy;
	CUstream st = s->streams[0];
	CUmodule mod;
	CUfunction embed, attn, mlp, sample;
	CUgraph graph;
	CUgraphExec exec;
	CUevent ev;
	static char host[4096];
	if (check("cuModuleLoadData", cu->ModuleLoadData(&mod, "loop_embed loop_attn loop_mlp loop_sample")) ||
	    check("cuModuleGetFunction", cu->ModuleGetFunction(&embed, mod, "loop_embed")) ||
	    check("cuModuleGetFunction", cu->ModuleGetFunction(&attn, mod, "loop_attn")) ||
	    check("cuModuleGetFunction", cu->ModuleGetFunction(&mlp, mod, "loop_mlp")) ||
	    check("cuModuleGetFunction", cu->ModuleGetFunction(&sample, mod, "loop_sample")) ||
	    check("cuEventCreate", cu->EventCreate(&ev, CU_EVENT_DISABLE_TIMING)) ||
	    check("cuStreamBeginCapture", cu->StreamBeginCapture(st, CU_STREAM_CAPTURE_MODE_GLOBAL)))
		return 1;
	for (int i = 0; i < GRAPH_LAUNCHES; i++)
		if (check("captured cuLaunchKernel",
			  cu->LaunchKernel(i % 2 ? mlp : attn, 512, 1, 1, 128, 1, 1, 0, st, NULL, NULL)))
			return 1;
	if (check("cuStreamEndCapture", cu->StreamEndCapture(st, &graph)) ||
	    check("cuGraphInstantiate", cu->GraphInstantiate(&exec, graph, 0)))
		return 1;
	ready();

	struct tally t = {0};
	unsigned long steps = 0;
	uint64_t end = mono_ns() + (uint64_t)(seconds * 1e9);
	struct timespec gap = {.tv_nsec = 200000};
	CUdeviceptr out = 0x1000; /* a device address to copy from; no bytes move */
	int failed = 0;
	while (mono_ns() < end && !failed) {
		failed |= DO(&t, cu->LaunchKernel, embed, 64, 1, 1, 128, 1, 1, 0, st, NULL, NULL);
		failed |= DO(&t, cu->GraphLaunch, exec, st);
		failed |= DO(&t, cu->LaunchKernel, sample, 8, 1, 1, 128, 1, 1, 0, st, NULL, NULL);
		failed |= DO(&t, cu->MemcpyDtoHAsync, host, out, sizeof(host), st);
		failed |= DO(&t, cu->StreamSynchronize, st);
		if (steps % 16 == 0) {
			CUdeviceptr p = 0;
			failed |= DO(&t, cu->MemAllocAsync, &p, 1 << 20, st);
			failed |= DO(&t, cu->EventRecord, ev, st);
			failed |= DO(&t, cu->EventSynchronize, ev);
			failed |= DO(&t, cu->MemFreeAsync, p, st);
		}
		steps++;
		nanosleep(&gap, NULL);
	}
	if (failed)
		fprintf(stderr, "cudriver: loop: a call failed at step %lu\n", steps);
	if (summary && write_summary(summary, steps, &t))
		return 1;
	return failed ? 1 : 0;
}
