/* internal.h: the simulated device's state, shared by the library's files. One global
 * mutex (fc_lock) guards everything below except the thread-locals and fc_sticky. */
#ifndef FAKECUDA_INTERNAL_H
#define FAKECUDA_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "cuda_min.h"
#include "fakecuda.h"

/* Every exported entry point: its own symbol, address and prologue, so a uprobe on it
 * fires once per call. Entry points never call each other, only static helpers. */
#define FC_API __attribute__((noinline, used, visibility("default")))
/* The helpers entry points call, kept out of line so that even the smallest entry point
 * makes a call and so sets up a frame (leaf functions get no push %rbp from gcc). */
#define FC_HELPER __attribute__((noinline))

#define DRIVER_VERSION 12080
#define DEVICE_NAME "FakeCUDA H100 80GB HBM3 (simulated)"

/* ---- configuration (config.c) ---- */
struct cost_entry {
	char *name;
	uint64_t base_ns;
	uint64_t per_block_ns;
};

struct fault {
	uint32_t cls; /* enum fakecuda_class */
	uint64_t n;   /* 1-based call index in its class */
	uint64_t value; /* the CUresult (faults) or extra milliseconds (stalls) */
};

#define MAX_FAULTS 32

struct config {
	struct cost_entry *costs; /* FAKECUDA_COST after the built-in entries; later wins */
	int ncosts;
	struct cost_entry deflt;  /* "*": kernels not named */
	double copy_gbps;         /* FAKECUDA_COPY_GBPS */
	uint64_t mem_bytes;       /* FAKECUDA_MEM_BYTES */
	struct fault faults[MAX_FAULTS];
	int nfaults;
	struct fault stalls[MAX_FAULTS];
	int nstalls;
};

extern struct config fc_cfg;
int config_load(void); /* 0 or CUDA_ERROR_INVALID_VALUE after printing why to stderr */
void cost_lookup(const char *name, uint64_t *base, uint64_t *per);
uint64_t copy_cost_ns(size_t bytes);

/* ---- handles (objects.c) ---- */
enum obj_kind {
	OBJ_FREE = 0,
	OBJ_CTX,
	OBJ_STREAM,
	OBJ_EVENT,
	OBJ_MODULE,
	OBJ_LIBRARY,
	OBJ_FUNCTION,
	OBJ_KERNEL,
	OBJ_GRAPH,
	OBJ_GRAPHEXEC,
};

#define STREAM_NONBLOCKING 0x1
#define STREAM_LEGACY 0x100
#define STREAM_PER_THREAD 0x200

/* One 64-byte slot of the handle arena; a handle is the slot's address. */
struct obj {
	uint32_t kind;
	uint32_t flags;
	union {
		struct {
			uint64_t done;       /* when the stream's queued work completes */
			struct obj *capture; /* the graph being captured, or NULL */
			uint32_t capture_bad;
			struct obj *next, *prev; /* all live streams */
		} stream;
		struct {
			uint64_t done; /* when the recorded work completes; 0: never recorded */
		} event;
		struct {
			char *names;        /* the image: names the module defines ("*": any) */
			struct obj *funcs;  /* functions (module) or kernels (library) handed out */
		} module;
		struct {
			char *name;
			uint64_t base_ns, per_block_ns;
			struct obj *next;     /* sibling in the owning module/library */
			struct obj *function; /* a kernel's CUfunction, once asked for */
		} fn;
		struct {
			uint64_t cost_ns;
			uint64_t nodes;
		} graph;
	} u;
};

_Static_assert(sizeof(struct obj) <= 64, "handle slot");

struct obj *obj_new(uint32_t kind);
void obj_free(struct obj *o);
struct obj *obj_get(const void *handle, uint32_t kind);
struct obj *fn_get(const void *handle); /* a CUfunction or a CUkernel */

/* ---- timelines (sim.c) ---- */
extern pthread_mutex_t fc_lock;
extern struct obj *fc_legacy;
extern struct obj fc_streams; /* list head */
extern int fc_sticky;         /* the sticky CUresult, 0 while none */
extern __thread struct fakecuda_last fc_last;

uint64_t now_ns(void);
int stream_resolve(CUstream h, int ptsz, struct obj **out);
uint64_t stream_ready(struct obj *s);           /* when work queued now could start, ignoring now */
uint64_t stream_enqueue(struct obj *s, uint64_t cost_ns);
uint64_t device_done(void);
void stream_link(struct obj *s);
void stream_unlink(struct obj *s);
void sleep_until(uint64_t t);
int is_sticky(int r);
uint64_t count_call(uint32_t cls, uint64_t *fault, uint64_t *stall_ms);
void set_sticky(int r);

/* ---- api state (fakecuda.c: api_enter, init_check; sim.c: wait_for, queue_work) ---- */
/* A call that needs a current context: counts the call in its class (0: none), takes
 * fc_lock and checks init, sticky error and context. Returns 0 holding fc_lock, or a
 * CUresult without it. */
struct call {
	uint64_t fault;    /* injected CUresult, 0: none */
	uint64_t stall_ms; /* injected stall */
};
int api_enter(uint32_t cls, struct call *c);
FC_HELPER int init_check(void); /* init and sticky error checks, for calls without a context; no lock */
int wait_for(uint64_t target, const struct call *c); /* the end of every wait, unlocked */
void queue_work(struct obj *s, uint64_t cost_ns); /* a launch or copy, under fc_lock */

/* ---- memory (memory.c) ---- */
int mem_alloc(size_t bytes, CUdeviceptr *out);
int mem_free(CUdeviceptr p);
int mem_create(size_t bytes, CUmemGenericAllocationHandle *out);
int mem_map(CUdeviceptr p, size_t size, size_t offset, CUmemGenericAllocationHandle h);
int mem_unmap(CUdeviceptr p, size_t size);
int mem_release(CUmemGenericAllocationHandle h);
int mem_reserve(size_t size, size_t align, CUdeviceptr *out);
int mem_unreserve(CUdeviceptr p, size_t size);
void mem_info(size_t *free_bytes, size_t *total);

#endif
