//go:build ignore

/* cudriver_report.c: the ground truth of a script run. Every driver call the script makes
 * in phase 2 becomes one JSON object (see doc.go for the fields), written in call order
 * (start time, then thread) to REPORT.json. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "cudriver.h"

/* The families the tracer probes: tracer/event/enums.go callNames. */
static const char *probed[] = {
	"cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel", "cuGraphLaunch",
	"cuStreamSynchronize", "cuEventSynchronize", "cuCtxSynchronize", "cuMemcpyDtoH",
	"cuMemcpyHtoD", "cuMemcpyAsync", "cuMemcpyDtoHAsync", "cuMemcpyHtoDAsync",
	"cuEventRecord", "cuMemAlloc", "cuMemAllocAsync", "cuMemFree", "cuMemFreeAsync",
	"cuMemCreate", "cuMemMap", "cuMemRelease", "cuModuleGetFunction", "cuLibraryGetKernel",
	"cuKernelGetFunction", "cuStreamBeginCapture", "cuStreamEndCapture", "cuGraphInstantiate",
};

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t run_delay_ns(void)
{
	static __thread int fd = -2;
	char buf[96];
	if (fd == -2)
		fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	unsigned long long on_cpu, waiting;
	return sscanf(buf, "%llu %llu", &on_cpu, &waiting) == 2 ? waiting : 0;
}

static int strip(char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	if (n > m && strcmp(s + n - m, suffix) == 0) {
		s[n - m] = 0;
		return 1;
	}
	return 0;
}

const char *call_family(const char *symbol, char *buf, size_t len)
{
	snprintf(buf, len, "%s", symbol);
	if (!strip(buf, "_ptsz"))
		strip(buf, "_ptds");
	strip(buf, "_v2");
	strip(buf, "WithFlags"); /* cuGraphInstantiateWithFlags is CUDA 12's cuGraphInstantiate */
	return buf;
}

int call_probed(const char *family)
{
	for (size_t i = 0; i < sizeof(probed) / sizeof(probed[0]); i++)
		if (strcmp(probed[i], family) == 0)
			return 1;
	return 0;
}

struct rec *rec_new(struct recorder *r, const void *fn)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->recs = realloc(r->recs, (size_t)r->cap * sizeof(*r->recs));
		if (!r->recs) {
			perror("cudriver: realloc");
			exit(1);
		}
	}
	struct rec *c = &r->recs[r->n++];
	memset(c, 0, sizeof(*c));
	c->symbol = api_symbol(fn);
	call_family(c->symbol, c->call, sizeof(c->call));
	c->probed = call_probed(c->call);
	c->thread = r->thread;
	c->tid = r->tid;
	return c;
}

int rec_end(struct rec *c, int result)
{
	c->end_ns = mono_ns();
	uint64_t delay = run_delay_ns();
	c->run_delay_ns = delay > c->run_delay_ns ? delay - c->run_delay_ns : 0;
	c->result = result;
	struct fakecuda_last l;
	last_call(&l);
	c->cls = l.cls;
	c->seq = l.seq;
	c->cost_ns = l.cost_ns;
	c->captured = (int)l.captured;
	c->stall_ns = l.stall_ns;
	if (l.cls == FAKECUDA_CLASS_WAIT && l.target_ns > c->start_ns)
		c->sim_gpu_ns = l.target_ns - c->start_ns;
	return result;
}

static int by_start(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->thread - y->thread;
}

static const char *class_name(uint32_t cls)
{
	static const char *names[] = {"", "wait", "launch", "alloc", "copy"};
	return cls < 5 ? names[cls] : "";
}

int report_write(const char *path, struct recorder *rs, int n)
{
	int total = 0;
	for (int i = 0; i < n; i++)
		total += rs[i].n;
	struct rec *all = calloc((size_t)total + 1, sizeof(*all));
	int k = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < rs[i].n; j++)
			all[k++] = rs[i].recs[j];
	qsort(all, (size_t)total, sizeof(*all), by_start);

	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		free(all);
		return -1;
	}
	fprintf(f, "[\n");
	for (int i = 0; i < total; i++) {
		const struct rec *c = &all[i];
		fprintf(f,
			"{\"symbol\":\"%s\",\"call\":\"%s\",\"probed\":%s,\"thread\":%d,\"tid\":%d,"
			"\"start_ns\":%llu,\"end_ns\":%llu,\"result\":%d,\"stream\":%llu,\"handle\":%llu,"
			"\"out\":%llu,\"kernel\":\"%s\",\"grid\":[%u,%u,%u],\"block\":[%u,%u,%u],"
			"\"bytes\":%llu,\"addr\":%llu,\"captured\":%s,\"class\":\"%s\",\"seq\":%llu,"
			"\"cost_ns\":%llu,\"sim_gpu_ns\":%llu,\"stall_ns\":%llu,\"run_delay_ns\":%llu}%s\n",
			c->symbol, c->call, c->probed ? "true" : "false", c->thread, (int)c->tid,
			(unsigned long long)c->start_ns, (unsigned long long)c->end_ns, c->result,
			(unsigned long long)c->stream, (unsigned long long)c->handle,
			(unsigned long long)c->out, c->kernel ? c->kernel : "", c->grid[0], c->grid[1],
			c->grid[2], c->block[0], c->block[1], c->block[2], (unsigned long long)c->bytes,
			(unsigned long long)c->addr, c->captured ? "true" : "false", class_name(c->cls),
			(unsigned long long)c->seq, (unsigned long long)c->cost_ns,
			(unsigned long long)c->sim_gpu_ns, (unsigned long long)c->stall_ns,
			(unsigned long long)c->run_delay_ns, i + 1 < total ? "," : "");
	}
	fprintf(f, "]\n");
	free(all);
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}
