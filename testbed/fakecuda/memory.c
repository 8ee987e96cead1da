//go:build ignore

/* memory.c: device memory accounting. Allocations (cuMemAlloc, cuMemAllocAsync,
 * cuMemCreate) count their exact byte size against FAKECUDA_MEM_BYTES and give it back
 * when freed or released. Device addresses come from a bump pointer that never reuses an
 * address, so a freed pointer never names a later allocation. Callers hold fc_lock. */
#include <stdlib.h>

#include "internal.h"

#define MIB2 (2ull << 20)
#define ALLOC_BASE 0x7f2000000000ull   /* cuMemAlloc addresses */
#define RESERVE_BASE 0x7fa000000000ull /* cuMemAddressReserve addresses */
#define HANDLE_BASE 0x100000ull        /* cuMemCreate handles */

/* An open-addressing map of non-zero 64-bit keys to 64-bit values. */
struct map {
	uint64_t *keys, *vals;
	size_t cap, n, used; /* used counts tombstones too */
};

#define TOMB (~0ull)

static uint64_t hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static int map_put(struct map *m, uint64_t k, uint64_t v);

static int map_grow(struct map *m)
{
	struct map old = *m;
	size_t cap = old.cap ? old.cap * 2 : 1024;
	if (old.n * 4 < old.cap)
		cap = old.cap; /* mostly tombstones: rehash in place */
	m->keys = calloc(cap, sizeof(uint64_t));
	m->vals = calloc(cap, sizeof(uint64_t));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		*m = old;
		return -1;
	}
	m->cap = cap;
	m->n = m->used = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i] && old.keys[i] != TOMB)
			map_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
	return 0;
}

static int map_put(struct map *m, uint64_t k, uint64_t v)
{
	if ((m->used + 1) * 4 >= m->cap * 3 && map_grow(m))
		return -1;
	size_t i = hash(k) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != TOMB)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->used++;
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
	return 0;
}

/* map_find returns the slot holding k, or -1. */
static long map_find(const struct map *m, uint64_t k)
{
	if (!m->cap)
		return -1;
	for (size_t i = hash(k) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k)
			return (long)i;
	return -1;
}

static int map_take(struct map *m, uint64_t k, uint64_t *v)
{
	long i = map_find(m, k);
	if (i < 0)
		return -1;
	if (v)
		*v = m->vals[i];
	m->keys[i] = TOMB;
	m->n--;
	return 0;
}

static struct map allocs;   /* device pointer -> bytes */
static struct map handles;  /* cuMemCreate handle -> bytes */
static struct map reserves; /* reserved address -> bytes */
static struct map mappings; /* mapped address -> handle */
static uint64_t in_use, next_alloc = ALLOC_BASE, next_reserve = RESERVE_BASE, next_handle = HANDLE_BASE;

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

static int charge(size_t bytes)
{
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if (bytes > fc_cfg.mem_bytes - in_use)
		return CUDA_ERROR_OUT_OF_MEMORY;
	in_use += bytes;
	return CUDA_SUCCESS;
}

int mem_alloc(size_t bytes, CUdeviceptr *out)
{
	int r = charge(bytes);
	if (r)
		return r;
	uint64_t align = bytes >= MIB2 ? MIB2 : 512;
	uint64_t p = round_up(next_alloc, align);
	if (map_put(&allocs, p, bytes)) {
		in_use -= bytes;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	next_alloc = p + round_up(bytes, 512);
	*out = p;
	return CUDA_SUCCESS;
}

int mem_free(CUdeviceptr p)
{
	uint64_t bytes;
	if (!p)
		return CUDA_SUCCESS;
	if (map_take(&allocs, p, &bytes))
		return CUDA_ERROR_INVALID_VALUE;
	in_use -= bytes;
	return CUDA_SUCCESS;
}

int mem_create(size_t bytes, CUmemGenericAllocationHandle *out)
{
	if (bytes % MIB2)
		return CUDA_ERROR_INVALID_VALUE; /* not a multiple of the granularity */
	int r = charge(bytes);
	if (r)
		return r;
	if (map_put(&handles, next_handle, bytes)) {
		in_use -= bytes;
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = next_handle++;
	return CUDA_SUCCESS;
}

int mem_release(CUmemGenericAllocationHandle h)
{
	uint64_t bytes;
	if (map_take(&handles, h, &bytes))
		return CUDA_ERROR_INVALID_VALUE;
	in_use -= bytes;
	return CUDA_SUCCESS;
}

int mem_reserve(size_t size, size_t align, CUdeviceptr *out)
{
	if (!size || size % MIB2 || (align & (align - 1)))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t p = round_up(next_reserve, align > MIB2 ? align : MIB2);
	if (map_put(&reserves, p, size))
		return CUDA_ERROR_OUT_OF_MEMORY;
	next_reserve = p + size;
	*out = p;
	return CUDA_SUCCESS;
}

int mem_unreserve(CUdeviceptr p, size_t size)
{
	long i = map_find(&reserves, p);
	if (i < 0 || reserves.vals[i] != size)
		return CUDA_ERROR_INVALID_VALUE;
	return map_take(&reserves, p, NULL) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

int mem_map(CUdeviceptr p, size_t size, size_t offset, CUmemGenericAllocationHandle h)
{
	long i = map_find(&handles, h);
	if (i < 0 || !p || !size || p % MIB2 || offset + size > handles.vals[i] ||
	    map_find(&mappings, p) >= 0)
		return CUDA_ERROR_INVALID_VALUE;
	return map_put(&mappings, p, h) ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

int mem_unmap(CUdeviceptr p, size_t size)
{
	if (!size)
		return CUDA_ERROR_INVALID_VALUE;
	return map_take(&mappings, p, NULL) ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

void mem_info(size_t *free_bytes, size_t *total)
{
	*free_bytes = fc_cfg.mem_bytes - in_use;
	*total = fc_cfg.mem_bytes;
}
