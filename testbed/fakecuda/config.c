//go:build ignore

/* config.c: the simulated device's knobs, read from the environment once, at cuInit.
 *
 *   FAKECUDA_COST="name=base:per,..."  kernel cost = base_ns + per_block_ns * gridX*gridY*gridZ;
 *                                      "*" sets the cost of every kernel not named.
 *                                      Built in: "*=4000:20,fakecuda_noop=0:0"; later entries win.
 *   FAKECUDA_COPY_GBPS=25              copy bandwidth in GB/s (1 GB/s = 1 byte/ns).
 *   FAKECUDA_MEM_BYTES=80GiB           device memory; suffixes K M G T (powers of 1024), KiB..TiB.
 *   FAKECUDA_FAULT="wait:N:700,..."    the Nth call of a class (wait, launch, alloc) returns the
 *                                      CUresult; sticky codes (700, 702, 714-719) stick.
 *   FAKECUDA_STALL="wait:N:MS,..."     the Nth wait blocks MS ms more; "launch:N:MS" makes the
 *                                      Nth launch's work MS ms longer on the GPU.
 * A malformed value is printed to stderr and makes cuInit return CUDA_ERROR_INVALID_VALUE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct config fc_cfg;

static const char *builtin_costs = "*=4000:20,fakecuda_noop=0:0";

static int bad(const char *var, const char *what, const char *text)
{
	fprintf(stderr, "fakecuda: %s: %s: %s\n", var, what, text);
	return CUDA_ERROR_INVALID_VALUE;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int add_cost(const char *var, char *entry)
{
	char *eq = strrchr(entry, '=');
	if (!eq || eq == entry)
		return bad(var, "want name=base_ns:per_block_ns", entry);
	*eq = 0;
	char *colon = strchr(eq + 1, ':');
	if (!colon)
		return bad(var, "want name=base_ns:per_block_ns", entry);
	*colon = 0;
	uint64_t base, per;
	if (parse_u64(eq + 1, &base) || parse_u64(colon + 1, &per))
		return bad(var, "costs are integer nanoseconds", entry);
	if (strcmp(entry, "*") == 0) {
		fc_cfg.deflt.base_ns = base;
		fc_cfg.deflt.per_block_ns = per;
		return 0;
	}
	struct cost_entry *c = realloc(fc_cfg.costs, (fc_cfg.ncosts + 1) * sizeof(*c));
	if (!c)
		return CUDA_ERROR_OUT_OF_MEMORY;
	fc_cfg.costs = c;
	c[fc_cfg.ncosts++] = (struct cost_entry){strdup(entry), base, per};
	return 0;
}

static int parse_list(const char *var, const char *text, int (*add)(const char *, char *))
{
	char *copy = strdup(text), *save = NULL;
	int r = 0;
	for (char *e = strtok_r(copy, ",", &save); e && !r; e = strtok_r(NULL, ",", &save)) {
		while (*e == ' ')
			e++;
		if (*e)
			r = add(var, e);
	}
	free(copy);
	return r;
}

static int parse_class(const char *s, uint32_t *cls)
{
	if (strcmp(s, "wait") == 0)
		*cls = FAKECUDA_CLASS_WAIT;
	else if (strcmp(s, "launch") == 0)
		*cls = FAKECUDA_CLASS_LAUNCH;
	else if (strcmp(s, "alloc") == 0)
		*cls = FAKECUDA_CLASS_ALLOC;
	else
		return -1;
	return 0;
}

/* kind:N:value */
static int parse_fault(const char *var, char *entry, struct fault *f)
{
	char *a = strchr(entry, ':'), *b = a ? strchr(a + 1, ':') : NULL;
	if (!a || !b)
		return bad(var, "want kind:N:value", entry);
	*a = *b = 0;
	if (parse_class(entry, &f->cls))
		return bad(var, "kind is wait, launch or alloc", entry);
	if (parse_u64(a + 1, &f->n) || f->n == 0)
		return bad(var, "N is a call index from 1", a + 1);
	if (parse_u64(b + 1, &f->value) || f->value == 0)
		return bad(var, "value is a positive integer", b + 1);
	return 0;
}

static int add_fault(const char *var, char *entry)
{
	if (fc_cfg.nfaults == MAX_FAULTS)
		return bad(var, "too many entries", entry);
	struct fault *f = &fc_cfg.faults[fc_cfg.nfaults];
	int r = parse_fault(var, entry, f);
	if (r)
		return r;
	if (f->value > 999)
		return bad(var, "a CUresult is at most 999", entry);
	fc_cfg.nfaults++;
	return 0;
}

static int add_stall(const char *var, char *entry)
{
	if (fc_cfg.nstalls == MAX_FAULTS)
		return bad(var, "too many entries", entry);
	struct fault *f = &fc_cfg.stalls[fc_cfg.nstalls];
	int r = parse_fault(var, entry, f);
	if (r)
		return r;
	if (f->cls == FAKECUDA_CLASS_ALLOC)
		return bad(var, "stalls are for wait or launch", entry);
	fc_cfg.nstalls++;
	return 0;
}

static int parse_bytes(const char *var, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return bad(var, "want bytes, e.g. 85899345920 or 80GiB", s);
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {{"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20},
		     {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (units[i].shift && v > (~0ULL >> units[i].shift))
				return bad(var, "too large", s);
			*out = v << units[i].shift;
			return 0;
		}
	}
	return bad(var, "unknown unit (K, M, G, T, KiB, MiB, GiB, TiB)", s);
}

int config_load(void)
{
	for (int i = 0; i < fc_cfg.ncosts; i++)
		free(fc_cfg.costs[i].name);
	free(fc_cfg.costs);
	memset(&fc_cfg, 0, sizeof(fc_cfg));
	fc_cfg.copy_gbps = 25.0;
	fc_cfg.mem_bytes = 80ULL << 30;
	int r = parse_list("built-in costs", builtin_costs, add_cost);
	const char *v;
	if (!r && (v = getenv("FAKECUDA_COST")))
		r = parse_list("FAKECUDA_COST", v, add_cost);
	if (!r && (v = getenv("FAKECUDA_COPY_GBPS"))) {
		char *end;
		fc_cfg.copy_gbps = strtod(v, &end);
		if (end == v || *end || !(fc_cfg.copy_gbps > 0))
			r = bad("FAKECUDA_COPY_GBPS", "want a positive number", v);
	}
	if (!r && (v = getenv("FAKECUDA_MEM_BYTES")))
		r = parse_bytes("FAKECUDA_MEM_BYTES", v, &fc_cfg.mem_bytes);
	if (!r && (v = getenv("FAKECUDA_FAULT")))
		r = parse_list("FAKECUDA_FAULT", v, add_fault);
	if (!r && (v = getenv("FAKECUDA_STALL")))
		r = parse_list("FAKECUDA_STALL", v, add_stall);
	return r;
}

void cost_lookup(const char *name, uint64_t *base, uint64_t *per)
{
	*base = fc_cfg.deflt.base_ns;
	*per = fc_cfg.deflt.per_block_ns;
	for (int i = 0; i < fc_cfg.ncosts; i++) {
		if (strcmp(fc_cfg.costs[i].name, name) == 0) {
			*base = fc_cfg.costs[i].base_ns;
			*per = fc_cfg.costs[i].per_block_ns;
		}
	}
}

uint64_t copy_cost_ns(size_t bytes)
{
	return (uint64_t)((double)bytes / fc_cfg.copy_gbps);
}
