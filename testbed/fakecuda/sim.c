//go:build ignore

/* sim.c: the device's timelines. Each stream holds the CLOCK_MONOTONIC time at which its
 * queued work completes (done). Work queued on a stream starts at the latest of now, the
 * stream's done, and the streams it is ordered after, and pushes done forward by its cost.
 * Ordering follows CUDA's legacy default stream: work on the legacy stream (handle 0 or
 * CU_STREAM_LEGACY) waits for every blocking stream, and work on a blocking stream waits
 * for the legacy stream; CU_STREAM_NON_BLOCKING streams are ordered after nothing. The
 * per-thread default stream (CU_STREAM_PER_THREAD, or 0 in a _ptsz/_ptds call) is one
 * blocking stream per host thread. Waits sleep until a time, never holding fc_lock. */
#include <stdatomic.h>
#include <sys/prctl.h>
#include <time.h>

#include "internal.h"

pthread_mutex_t fc_lock = PTHREAD_MUTEX_INITIALIZER;
struct obj *fc_legacy;
struct obj fc_streams = {.u.stream = {.next = &fc_streams, .prev = &fc_streams}};
int fc_sticky;
__thread struct fakecuda_last fc_last;

static __thread struct obj *pt_stream;
static pthread_key_t pt_key;
static pthread_once_t pt_once = PTHREAD_ONCE_INIT;
static uint64_t counts[5]; /* per enum fakecuda_class */

/* The last stretch of a wait spins, so it ends within microseconds of the simulated time. */
#define SPIN_NS 20000

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void stream_link(struct obj *s)
{
	s->u.stream.next = fc_streams.u.stream.next;
	s->u.stream.prev = &fc_streams;
	fc_streams.u.stream.next->u.stream.prev = s;
	fc_streams.u.stream.next = s;
}

void stream_unlink(struct obj *s)
{
	s->u.stream.prev->u.stream.next = s->u.stream.next;
	s->u.stream.next->u.stream.prev = s->u.stream.prev;
}

static void pt_release(void *p)
{
	pthread_mutex_lock(&fc_lock);
	stream_unlink(p);
	obj_free(p);
	pthread_mutex_unlock(&fc_lock);
}

static void pt_key_init(void)
{
	pthread_key_create(&pt_key, pt_release);
}

static struct obj *per_thread_stream(void)
{
	if (pt_stream)
		return pt_stream;
	pthread_once(&pt_once, pt_key_init);
	struct obj *o = obj_new(OBJ_STREAM);
	if (!o)
		return NULL;
	o->flags = STREAM_PER_THREAD;
	stream_link(o);
	pthread_setspecific(pt_key, o);
	pt_stream = o;
	return o;
}

int stream_resolve(CUstream h, int ptsz, struct obj **out)
{
	if (h == NULL)
		*out = ptsz ? per_thread_stream() : fc_legacy;
	else if (h == CU_STREAM_LEGACY)
		*out = fc_legacy;
	else if (h == CU_STREAM_PER_THREAD)
		*out = per_thread_stream();
	else if (!(*out = obj_get(h, OBJ_STREAM)))
		return CUDA_ERROR_INVALID_HANDLE;
	return *out ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

static inline uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

uint64_t stream_ready(struct obj *s)
{
	uint64_t t = s->u.stream.done;
	if (s->flags & STREAM_LEGACY) {
		for (struct obj *x = fc_streams.u.stream.next; x != &fc_streams; x = x->u.stream.next)
			if (!(x->flags & STREAM_NONBLOCKING))
				t = max64(t, x->u.stream.done);
	} else if (!(s->flags & STREAM_NONBLOCKING)) {
		t = max64(t, fc_legacy->u.stream.done);
	}
	return t;
}

uint64_t stream_enqueue(struct obj *s, uint64_t cost_ns)
{
	uint64_t start = stream_ready(s);
	/* Zero-cost work needs no clock: a done time in the past means idle either way. */
	if (cost_ns)
		start = max64(start, now_ns());
	s->u.stream.done = start + cost_ns;
	return s->u.stream.done;
}

uint64_t device_done(void)
{
	uint64_t t = 0;
	for (struct obj *x = fc_streams.u.stream.next; x != &fc_streams; x = x->u.stream.next)
		t = max64(t, x->u.stream.done);
	return t;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void sleep_until(uint64_t t)
{
	uint64_t n = now_ns();
	if (t <= n)
		return;
	if (t - n > SPIN_NS) {
		static __thread int slack_set;
		if (!slack_set) {
			/* wake on time, not up to 50 us late (the default timer slack) */
			prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
			slack_set = 1;
		}
		uint64_t wake = t - SPIN_NS;
		struct timespec ts = {.tv_sec = wake / 1000000000ull, .tv_nsec = wake % 1000000000ull};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
			;
	}
	while (now_ns() < t)
		cpu_relax();
}

int is_sticky(int r)
{
	return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_TIMEOUT ||
	       (r >= CUDA_ERROR_HARDWARE_STACK_ERROR && r <= CUDA_ERROR_LAUNCH_FAILED);
}

void set_sticky(int r)
{
	if (is_sticky(r))
		atomic_store_explicit((_Atomic int *)&fc_sticky, r, memory_order_release);
}

/* count_call numbers a call in its class and returns its injected fault (CUresult) and
 * stall (ms), 0 when none. Under fc_lock. */
uint64_t count_call(uint32_t cls, uint64_t *fault, uint64_t *stall_ms)
{
	uint64_t seq = ++counts[cls];
	*fault = 0;
	*stall_ms = 0;
	for (int i = 0; i < fc_cfg.nfaults; i++)
		if (fc_cfg.faults[i].cls == cls && fc_cfg.faults[i].n == seq)
			*fault = fc_cfg.faults[i].value;
	for (int i = 0; i < fc_cfg.nstalls; i++)
		if (fc_cfg.stalls[i].cls == cls && fc_cfg.stalls[i].n == seq)
			*stall_ms += fc_cfg.stalls[i].value;
	fc_last = (struct fakecuda_last){.cls = cls, .seq = seq};
	return seq;
}

/* wait_for ends every wait: it adds an injected stall, blocks until target and returns
 * the injected fault, if any. Called without fc_lock. */
int wait_for(uint64_t target, const struct call *c)
{
	uint64_t stall = c->stall_ms * 1000000ull;
	if (stall) {
		target = max64(target, now_ns()) + stall;
	}
	fc_last.target_ns = target;
	fc_last.stall_ns = stall;
	sleep_until(target);
	if (c->fault) {
		set_sticky((int)c->fault);
		return (int)c->fault;
	}
	return CUDA_SUCCESS;
}

/* queue_work puts work of the given cost on a stream, or into the graph the stream is
 * capturing. Under fc_lock. */
void queue_work(struct obj *s, uint64_t cost_ns)
{
	fc_last.cost_ns = cost_ns;
	struct obj *g = s->u.stream.capture;
	if (g) {
		g->u.graph.cost_ns += cost_ns;
		g->u.graph.nodes++;
		fc_last.captured = 1;
		return;
	}
	stream_enqueue(s, cost_ns);
}
