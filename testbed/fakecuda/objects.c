//go:build ignore

/* objects.c: handles. Every CUcontext, CUstream, CUevent, CUmodule, CUlibrary,
 * CUfunction, CUkernel, CUgraph and CUgraphExec is the address of a 64-byte slot in one
 * arena, so a handle is a distinct, non-zero, pointer-like value that can be checked
 * (in the arena, on a slot boundary, of the right kind) without dereferencing garbage.
 * Freed slots are reused, as the real driver reuses its allocations. Callers hold fc_lock. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define SLOT 64
#define ARENA_SLOTS (1u << 20) /* 64 MiB of address space, reserved, touched on use */

static unsigned char *arena;
static uint32_t used;         /* slots handed out at least once */
static struct obj *free_list; /* freed slots, linked through u.fn.next */

static int arena_init(void)
{
	if (arena)
		return 0;
	void *p = mmap(NULL, (size_t)ARENA_SLOTS * SLOT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("fakecuda: mmap handle arena");
		return -1;
	}
	arena = p;
	return 0;
}

struct obj *obj_new(uint32_t kind)
{
	struct obj *o;
	if (free_list) {
		o = free_list;
		free_list = o->u.fn.next;
	} else {
		if (arena_init() || used == ARENA_SLOTS)
			return NULL;
		o = (struct obj *)(arena + (size_t)used++ * SLOT);
	}
	memset(o, 0, SLOT);
	o->kind = kind;
	return o;
}

void obj_free(struct obj *o)
{
	memset(o, 0, SLOT);
	o->kind = OBJ_FREE;
	o->u.fn.next = free_list;
	free_list = o;
}

struct obj *obj_get(const void *handle, uint32_t kind)
{
	uintptr_t p = (uintptr_t)handle, base = (uintptr_t)arena;
	if (!arena || p < base || p >= base + (uintptr_t)used * SLOT || (p - base) % SLOT)
		return NULL;
	struct obj *o = (struct obj *)p;
	return o->kind == kind ? o : NULL;
}

struct obj *fn_get(const void *handle)
{
	struct obj *o = obj_get(handle, OBJ_FUNCTION);
	return o ? o : obj_get(handle, OBJ_KERNEL);
}
