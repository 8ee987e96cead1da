//go:build ignore

/* api_module.c: modules, libraries and kernel names. The image given to
 * cuModuleLoadData or cuLibraryLoadData is a NUL-terminated list of the kernel names it
 * defines, separated by spaces, commas or newlines; "*" defines every name. Looking up a
 * name the image does not define returns CUDA_ERROR_NOT_FOUND (500). Each name gets one
 * handle per module (or library), looked up again it is the same handle, and its cost
 * comes from the cost model (FAKECUDA_COST) when the handle is made. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "internal.h"

static const char *seps = " ,\n\t";

static int load(struct obj **out, uint32_t kind, const void *image)
{
	if (!out || !image)
		return CUDA_ERROR_INVALID_VALUE;
	char *names = strdup(image);
	if (!names)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (names[strspn(names, seps)] == 0) {
		free(names);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	struct call c;
	int r = api_enter(0, &c);
	if (r) {
		free(names);
		return r;
	}
	struct obj *m = obj_new(kind);
	if (m)
		m->u.module.names = names;
	pthread_mutex_unlock(&fc_lock);
	if (!m) {
		free(names);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = m;
	return CUDA_SUCCESS;
}

static int defines(const char *names, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = names; *p;) {
		p += strspn(p, seps);
		size_t len = strcspn(p, seps);
		if ((len == 1 && *p == '*') || (len == n && n && memcmp(p, name, n) == 0))
			return 1;
		p += len;
	}
	return 0;
}

static struct obj *fn_new(uint32_t kind, const char *name)
{
	struct obj *f = obj_new(kind);
	if (!f)
		return NULL;
	if (!(f->u.fn.name = strdup(name))) {
		obj_free(f);
		return NULL;
	}
	cost_lookup(name, &f->u.fn.base_ns, &f->u.fn.per_block_ns);
	return f;
}

/* lookup finds or makes the handle of name in module (or library) m. Under fc_lock. */
static int lookup(struct obj *m, uint32_t kind, const char *name, struct obj **out)
{
	if (!defines(m->u.module.names, name))
		return CUDA_ERROR_NOT_FOUND;
	for (struct obj *f = m->u.module.funcs; f; f = f->u.fn.next) {
		if (strcmp(f->u.fn.name, name) == 0) {
			*out = f;
			return CUDA_SUCCESS;
		}
	}
	struct obj *f = fn_new(kind, name);
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	f->u.fn.next = m->u.module.funcs;
	m->u.module.funcs = f;
	*out = f;
	return CUDA_SUCCESS;
}

static void fn_free(struct obj *f)
{
	free(f->u.fn.name);
	obj_free(f);
}

static int unload(const void *h, uint32_t kind)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *m = obj_get(h, kind);
	if (!m)
		r = CUDA_ERROR_INVALID_HANDLE;
	else {
		for (struct obj *f = m->u.module.funcs, *next; f; f = next) {
			next = f->u.fn.next;
			if (f->u.fn.function)
				fn_free(f->u.fn.function);
			fn_free(f);
		}
		free(m->u.module.names);
		obj_free(m);
	}
	pthread_mutex_unlock(&fc_lock);
	return r;
}

static int get(void *out, const void *h, uint32_t kind, uint32_t fkind, const char *name)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *m = obj_get(h, kind), *f;
	if (!out || !name)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!m)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!(r = lookup(m, fkind, name, &f)))
		*(void **)out = f;
	pthread_mutex_unlock(&fc_lock);
	return r;
}

FC_API CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	return load((struct obj **)module, OBJ_MODULE, image);
}

FC_API CUresult cuModuleUnload(CUmodule hmod)
{
	return unload(hmod, OBJ_MODULE);
}

FC_API CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	return get(hfunc, hmod, OBJ_MODULE, OBJ_FUNCTION, name);
}

FC_API CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
				  void **jitOptionsValues, unsigned int numJitOptions,
				  CUlibraryOption *libraryOptions, void **libraryOptionValues,
				  unsigned int numLibraryOptions)
{
	if ((numJitOptions && (!jitOptions || !jitOptionsValues)) ||
	    (numLibraryOptions && (!libraryOptions || !libraryOptionValues)))
		return CUDA_ERROR_INVALID_VALUE;
	return load((struct obj **)library, OBJ_LIBRARY, code);
}

FC_API CUresult cuLibraryUnload(CUlibrary library)
{
	return unload(library, OBJ_LIBRARY);
}

FC_API CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
	return get(pKernel, library, OBJ_LIBRARY, OBJ_KERNEL, name);
}

FC_API CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
	struct call c;
	int r = api_enter(0, &c);
	if (r)
		return r;
	struct obj *k = obj_get(kernel, OBJ_KERNEL);
	if (!pFunc)
		r = CUDA_ERROR_INVALID_VALUE;
	else if (!k)
		r = CUDA_ERROR_INVALID_HANDLE;
	else if (!k->u.fn.function && !(k->u.fn.function = fn_new(OBJ_FUNCTION, k->u.fn.name)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	else
		*pFunc = (CUfunction)k->u.fn.function;
	pthread_mutex_unlock(&fc_lock);
	return r;
}
