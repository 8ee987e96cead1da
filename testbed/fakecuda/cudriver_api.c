//go:build ignore

/* cudriver_api.c: loading the driver and resolving its entry points, both ways a real
 * program does: dlsym by exported name, and cuGetProcAddress_v2 by base name. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cudriver.h"

struct cu cu_legacy;
fakecudaLastCall_fn last_call;
__typeof__(&cuGetProcAddress_v2) get_proc;

static void *lib;

void *api_sym(const char *name)
{
	return dlsym(lib, name);
}

static void *must_sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (!p)
		fprintf(stderr, "cudriver: dlsym %s: %s\n", name, dlerror());
	return p;
}

int api_open(const char *path)
{
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "cudriver: dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	int bad = 0;
#define SYM(field, base, sym, ptsym) bad |= !(*(void **)&cu_legacy.field = must_sym(#sym));
	CU_FUNCS(SYM)
#undef SYM
	bad |= !(*(void **)&last_call = must_sym("fakecudaLastCall"));
	bad |= !(*(void **)&get_proc = must_sym("cuGetProcAddress_v2"));
	return bad ? -1 : 0;
}

int api_fill_per_thread(struct cu *t)
{
	int bad = 0;
	CUdriverProcAddressQueryResult st;
#define PROC(field, base, sym, ptsym)                                                               \
	if (get_proc(#base, (void **)&t->field, PROC_VERSION,                                       \
		     CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st) ||                          \
	    !t->field) {                                                                            \
		fprintf(stderr, "cudriver: cuGetProcAddress_v2 %s: status %d\n", #base, (int)st);  \
		bad = 1;                                                                            \
	}
	CU_FUNCS(PROC)
#undef PROC
	return bad ? -1 : 0;
}

const char *api_symbol(const void *fn)
{
	Dl_info info;
	if (!dladdr(fn, &info) || !info.dli_sname || info.dli_saddr != fn)
		return "?";
	return info.dli_sname;
}

static int expect(const char *base, cuuint64_t flags, const char *want)
{
	void *got = NULL;
	CUdriverProcAddressQueryResult st = -1;
	int r = get_proc(base, &got, PROC_VERSION, flags, &st);
	void *exp = dlsym(lib, want);
	if (r || st != CU_GET_PROC_ADDRESS_SUCCESS || !got || got != exp) {
		printf("mismatch %s flags=%llu: result %d status %d got %s want %s\n", base, flags, r,
		       (int)st, got ? api_symbol(got) : "NULL", want);
		return 1;
	}
	return 0;
}

int api_check_procaddr(void)
{
	int bad = 0, n = 0;
#define CHECK(field, base, sym, ptsym)                                                   \
	bad += expect(#base, CU_GET_PROC_ADDRESS_DEFAULT, #sym);                          \
	bad += expect(#base, CU_GET_PROC_ADDRESS_LEGACY_STREAM, #sym);                    \
	bad += expect(#base, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, #ptsym);      \
	n += 3;
	CU_FUNCS(CHECK)
#undef CHECK
	/* A variant newer than the caller's CUDA, and a name the driver lacks. */
	void *got = (void *)1;
	CUdriverProcAddressQueryResult st = -1;
	int r = get_proc("cuLibraryGetKernel", &got, 11080, 0, &st);
	if (r != CUDA_ERROR_NOT_FOUND || st != CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT || got) {
		printf("mismatch cuLibraryGetKernel@11080: result %d status %d\n", r, (int)st);
		bad++;
	}
	r = get_proc("cuNoSuchEntryPoint", &got, PROC_VERSION, 0, &st);
	if (r != CUDA_ERROR_NOT_FOUND || st != CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND || got) {
		printf("mismatch cuNoSuchEntryPoint: result %d status %d\n", r, (int)st);
		bad++;
	}
	n += 2;
	printf("procaddr checked %d bad %d\n", n, bad);
	return bad ? -1 : 0;
}
