//go:build ignore

/* cudriver: the scripted CUDA workload the capture tests and benchmarks trace. It
 * dlopens libcuda.so.1 (--lib PATH, else the dynamic loader's search, LD_LIBRARY_PATH
 * included) and never links it, as PyTorch does not.
 *
 *   cudriver [--lib PATH] script REPORT.json   phase 1, "ready <pid>", one stdin line,
 *                                              phase 2 (cudriver_script.c), the report
 *   cudriver [--lib PATH] bench launch|sync|stream-sync N
 *                                              "ready <pid>", one stdin line, N calls,
 *                                              then "ns_per_call <float>"
 *   cudriver [--lib PATH] loop SECONDS [SUMMARY.json]
 *                                              setup, "ready <pid>", a steady workload
 *                                              until SECONDS pass (cudriver_loop.c)
 *   cudriver [--lib PATH] procaddr             checks cuGetProcAddress_v2 against dlsym
 *   cudriver [--lib PATH] selftest             checks stream ordering, capture errors, queries
 *                                              (cudriver_selftest.c)
 *
 * Exit status 0; 1 when setup fails; 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cudriver.h"

int check(const char *what, int r)
{
	if (r) {
		const char *name = NULL;
		cu_legacy.GetErrorName(r, &name);
		fprintf(stderr, "cudriver: %s: %s (%d)\n", what, name ? name : "unknown CUresult", r);
	}
	return r;
}

/* setup is phase 1: no wait, launch or allocation. */
int setup(struct setup *s)
{
	struct cu *cu = &cu_legacy;
	int version = 0, count = 0;
	char name[128];
	size_t free_bytes = 0;
	CUcontext cur = NULL;
	if (check("cuInit", cu->Init(0)) || check("cuDriverGetVersion", cu->DriverGetVersion(&version)) ||
	    check("cuDeviceGetCount", cu->DeviceGetCount(&count)) ||
	    check("cuDeviceGet", cu->DeviceGet(&s->dev, 0)) ||
	    check("cuDeviceGetName", cu->DeviceGetName(name, sizeof(name), s->dev)) ||
	    check("cuDeviceTotalMem_v2", cu->DeviceTotalMem(&s->total_mem, s->dev)) ||
	    check("cuDevicePrimaryCtxRetain", cu->DevicePrimaryCtxRetain(&s->ctx, s->dev)) ||
	    check("cuCtxSetCurrent", cu->CtxSetCurrent(s->ctx)) ||
	    check("cuCtxGetCurrent", cu->CtxGetCurrent(&cur)) ||
	    check("cuMemGetInfo_v2", cu->MemGetInfo(&free_bytes, &s->total_mem)) ||
	    check("cuStreamCreate", cu->StreamCreate(&s->streams[0], CU_STREAM_DEFAULT)) ||
	    check("cuStreamCreate", cu->StreamCreate(&s->streams[1], CU_STREAM_NON_BLOCKING)) ||
	    check("cuModuleLoadData",
		  cu->ModuleLoadData(&s->mod, "early_kernel late_kernel_a late_kernel_b fakecuda_noop selftest_slow")) ||
	    check("cuLibraryLoadData", cu->LibraryLoadData(&s->lib, "lib_kernel", NULL, NULL, 0, NULL, NULL, 0)) ||
	    check("cuModuleGetFunction early_kernel", cu->ModuleGetFunction(&s->early, s->mod, "early_kernel")))
		return -1;
	if (count != 1 || cur != s->ctx || version < PROC_VERSION) {
		fprintf(stderr, "cudriver: unexpected device: count %d, version %d\n", count, version);
		return -1;
	}
	return 0;
}

void ready(void)
{
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
}

static void wait_go(void)
{
	char line[64];
	if (!fgets(line, sizeof(line), stdin)) {
		/* stdin closed: go anyway, the caller is gone or did not care */
	}
}

static int bench(const struct setup *s, const char *mode, long n)
{
	struct cu *cu = &cu_legacy;
	CUfunction noop;
	CUstream st = s->streams[1];
	if (check("cuModuleGetFunction fakecuda_noop", cu->ModuleGetFunction(&noop, s->mod, "fakecuda_noop")))
		return 1;
	int which = strcmp(mode, "launch") == 0 ? 0 : strcmp(mode, "sync") == 0 ? 1 : 2;
	ready();
	wait_go();
	uint64_t t0 = mono_ns();
	for (long i = 0; i < n; i++) {
		int r = which == 0   ? cu->LaunchKernel(noop, 1, 1, 1, 1, 1, 1, 0, st, NULL, NULL)
			: which == 1 ? cu->CtxSynchronize()
				     : cu->StreamSynchronize(st);
		if (check(mode, r))
			return 1;
	}
	uint64_t t1 = mono_ns();
	printf("ns_per_call %.3f\n", (double)(t1 - t0) / (double)n);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: cudriver [--lib PATH] script REPORT.json | bench launch|sync|stream-sync N |"
			" loop SECONDS [SUMMARY.json] | procaddr | selftest\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *lib = "libcuda.so.1";
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--lib") == 0) {
		lib = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return usage();
	const char *mode = argv[i++];
	int nargs = argc - i;
	if (!((strcmp(mode, "script") == 0 && nargs == 1) || (strcmp(mode, "bench") == 0 && nargs == 2) ||
	      (strcmp(mode, "loop") == 0 && (nargs == 1 || nargs == 2)) ||
	      ((strcmp(mode, "procaddr") == 0 || strcmp(mode, "selftest") == 0) && nargs == 0)))
		return usage();
	if (api_open(lib))
		return 1;
	if (strcmp(mode, "procaddr") == 0)
		return api_check_procaddr() ? 1 : 0;
	if (strcmp(mode, "loop") == 0) {
		char *end;
		double secs = strtod(argv[i], &end);
		if (*end || !(secs >= 0))
			return usage();
		struct setup s = {0};
		if (setup(&s))
			return 1;
		return loop_run(&s, secs, nargs == 2 ? argv[i + 1] : NULL);
	}
	if (strcmp(mode, "selftest") == 0)
		setenv("FAKECUDA_COST", "selftest_slow=20000000:0", 1);
	struct setup s = {0};
	if (setup(&s))
		return 1;
	if (strcmp(mode, "selftest") == 0)
		return selftest_run(&s) ? 1 : 0;
	if (strcmp(mode, "bench") == 0) {
		char *end;
		long n = strtol(argv[i + 1], &end, 10);
		const char *m = argv[i];
		if (*end || n <= 0 ||
		    (strcmp(m, "launch") && strcmp(m, "sync") && strcmp(m, "stream-sync")))
			return usage();
		return bench(&s, m, n);
	}
	struct cu per_thread;
	if (api_fill_per_thread(&per_thread))
		return 1;
	ready();
	wait_go();
	return script_run(&s, &per_thread, argv[i]) ? 1 : 0;
}
