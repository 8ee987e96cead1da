// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * cuda.bpf.c: uprobes on the CUDA driver API in libcuda.so of tracked processes.
 *
 * Hooks (user space attaches each exported variant of each call, per process, with the
 * attach cookie = event.Call | enum cookie_flags; see tracer/probes.go):
 *   launch        entry of cuLaunchKernel, cuLaunchCooperativeKernel (x86-64: f, grid and
 *                 blockDimX/Y in registers; blockDimZ, sharedMemBytes and hStream on the
 *                 user stack at sp+8, sp+16, sp+24)
 *   launch_ex     entry of cuLaunchKernelEx (reads the CUlaunchConfig)
 *   graph_launch  entry of cuGraphLaunch (never sampled: graph launches bound steps)
 *   call_enter    entry of every other call: saves its arguments per thread and call;
 *                 blocking waits also emit an entry record at once
 *   call_return   return of every other call: emits the return record with the saved
 *                 arguments, the CUresult and what the call wrote through its out pointer
 *
 * Records (cuda.h): REC_CUDA_LAUNCH for launches, REC_CUDA_CALL for waits (entry and
 * return) and every other return, REC_CUDA_NAME for name lookups (the name looked up).
 * Kernel launches are sampled 1 in launch_sample[0] when that is above 1.
 *
 * No tracked-map check here: the uprobes are attached with the tracked process's pid,
 * so other processes never trap. Minimum kernel: 5.15 (attach cookies).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "common.h"
#include "cuda.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Kernel launches are recorded 1 in launch_sample[0] (0 or 1: every launch). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} launch_sample SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} launch_tick SEC(".maps");

struct call_key {
	__u32 tid;
	__u32 call;
};

/* A call's arguments, saved at entry for its return record. */
struct call_state {
	__u64 start;
	__u64 stream;
	__u64 handle;
	__u64 bytes;
	__u64 addr;
	__u64 graph;
	__u64 out_ptr;  /* where the call writes the handle it produces */
	__u64 name_ptr; /* the name a lookup looks up */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct call_key);
	__type(value, struct call_state);
} call_args SEC(".maps");

/* Emit BTF for the record types and enums that user space decodes with (bpf2go -type). */
const struct cuda_launch_rec *unused_cuda_launch_rec __attribute__((unused));
const struct cuda_name_rec *unused_cuda_name_rec __attribute__((unused));
const enum rec_tag *unused_rec_tag __attribute__((unused));
const enum drop_reason *unused_drop_reason __attribute__((unused));
const enum cookie_flags *unused_cookie_flags __attribute__((unused));
const enum cuda_call *unused_cuda_call __attribute__((unused));
const enum cuda_limits *unused_cuda_limits __attribute__((unused));

static __always_inline bool sample_skip(void)
{
	__u32 zero = 0;
	__u32 *every = bpf_map_lookup_elem(&launch_sample, &zero);
	__u64 *tick;

	if (!every || *every <= 1)
		return false;
	tick = bpf_map_lookup_elem(&launch_tick, &zero);
	if (!tick)
		return false;
	*tick += 1;
	return *tick % *every != 0;
}

static __always_inline __u64 cookie_stream(__u64 cookie, __u64 stream)
{
	if (stream == 0 && (cookie & COOKIE_PER_THREAD))
		return CU_STREAM_PER_THREAD;
	return stream;
}

static __always_inline void fill_launch(struct cuda_launch_rec *r, __u64 cookie)
{
	__u64 id = bpf_get_current_pid_tgid();

	r->tag = REC_CUDA_LAUNCH;
	r->call = cookie & COOKIE_CALL_MASK;
	r->_pad0 = 0;
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->ts = bpf_ktime_get_ns();
}

SEC("uprobe")
int launch(struct pt_regs *ctx)
{
	struct cuda_launch_rec *r;
	__u64 cookie, stack[3];

	if (sample_skip())
		return 0;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count_drop(DROP_CUDA_LAUNCH);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	fill_launch(r, cookie);
	/* blockDimZ, sharedMemBytes, hStream: args 7..9 (zeroed if unreadable) */
	bpf_probe_read_user(stack, sizeof(stack), (void *)(PT_REGS_SP(ctx) + 8));
	r->handle = PT_REGS_PARM1(ctx);
	r->grid[0] = PT_REGS_PARM2(ctx);
	r->grid[1] = PT_REGS_PARM3(ctx);
	r->grid[2] = PT_REGS_PARM4(ctx);
	r->block[0] = PT_REGS_PARM5(ctx);
	r->block[1] = ctx->r9; /* arg 6: libbpf 1.1 has no PT_REGS_PARM6 */
	r->block[2] = stack[0];
	r->stream = cookie_stream(cookie, stack[2]);
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

SEC("uprobe")
int launch_ex(struct pt_regs *ctx)
{
	struct cu_launch_config cfg;
	struct cuda_launch_rec *r;
	__u64 cookie;

	if (sample_skip())
		return 0;
	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count_drop(DROP_CUDA_LAUNCH);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	fill_launch(r, cookie);
	bpf_probe_read_user(&cfg, sizeof(cfg), (void *)PT_REGS_PARM1(ctx));
	r->handle = PT_REGS_PARM2(ctx);
	r->grid[0] = cfg.grid[0];
	r->grid[1] = cfg.grid[1];
	r->grid[2] = cfg.grid[2];
	r->block[0] = cfg.block[0];
	r->block[1] = cfg.block[1];
	r->block[2] = cfg.block[2];
	r->stream = cookie_stream(cookie, cfg.stream);
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

SEC("uprobe")
int graph_launch(struct pt_regs *ctx)
{
	struct cuda_launch_rec *r;
	__u64 cookie;

	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count_drop(DROP_CUDA_LAUNCH);
		return 0;
	}
	cookie = bpf_get_attach_cookie(ctx);
	fill_launch(r, cookie);
	r->handle = PT_REGS_PARM1(ctx);
	r->stream = cookie_stream(cookie, PT_REGS_PARM2(ctx));
	r->grid[0] = r->grid[1] = r->grid[2] = 0;
	r->block[0] = r->block[1] = r->block[2] = 0;
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

static __always_inline void fill_call(struct cuda_rec *r, __u32 call, __u64 id, __u64 now,
				      const struct call_state *st)
{
	r->tag = REC_CUDA_CALL;
	r->call = call;
	r->_pad0 = 0;
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->ts = now;
	r->start = st->start;
	r->stream = st->stream;
	r->handle = st->handle;
	r->out = 0;
	r->bytes = st->bytes;
	r->addr = st->addr;
	r->graph = st->graph;
	r->result = 0;
	r->_pad1 = 0;
}

static __always_inline bool is_wait(__u32 call)
{
	return call >= CALL_STREAM_SYNCHRONIZE && call <= CALL_MEMCPY_HTOD;
}

SEC("uprobe")
int call_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key key = { .tid = (__u32)id, .call = cookie & COOKIE_CALL_MASK };
	__u64 p1 = PT_REGS_PARM1(ctx), p2 = PT_REGS_PARM2(ctx);
	__u64 p3 = PT_REGS_PARM3(ctx), p4 = PT_REGS_PARM4(ctx);
	struct call_state st = {};
	struct cuda_rec *r;

	st.start = bpf_ktime_get_ns();
	switch (key.call) {
	case CALL_STREAM_SYNCHRONIZE:     /* (hStream) */
	case CALL_STREAM_BEGIN_CAPTURE:   /* (hStream, mode) */
		st.stream = p1;
		break;
	case CALL_EVENT_SYNCHRONIZE:      /* (hEvent) */
	case CALL_MEM_RELEASE:            /* (handle) */
		st.handle = p1;
		break;
	case CALL_MEMCPY_DTOH:            /* (dstHost, srcDevice, ByteCount) */
		st.addr = p2;
		st.bytes = p3;
		break;
	case CALL_MEMCPY_HTOD:            /* (dstDevice, srcHost, ByteCount) */
		st.addr = p1;
		st.bytes = p3;
		break;
	case CALL_MEMCPY_ASYNC:           /* (dst, src, ByteCount, hStream) */
	case CALL_MEMCPY_HTOD_ASYNC:      /* (dstDevice, srcHost, ByteCount, hStream) */
		st.addr = p1;
		st.bytes = p3;
		st.stream = p4;
		break;
	case CALL_MEMCPY_DTOH_ASYNC:      /* (dstHost, srcDevice, ByteCount, hStream) */
		st.addr = p2;
		st.bytes = p3;
		st.stream = p4;
		break;
	case CALL_EVENT_RECORD:           /* (hEvent, hStream[, flags]) */
		st.handle = p1;
		st.stream = p2;
		break;
	case CALL_MEM_ALLOC:              /* (*dptr, bytesize) */
	case CALL_MEM_CREATE:             /* (*handle, size, prop, flags) */
		st.out_ptr = p1;
		st.bytes = p2;
		break;
	case CALL_MEM_ALLOC_ASYNC:        /* (*dptr, bytesize, hStream) */
		st.out_ptr = p1;
		st.bytes = p2;
		st.stream = p3;
		break;
	case CALL_MEM_FREE:               /* (dptr) */
		st.addr = p1;
		break;
	case CALL_MEM_FREE_ASYNC:         /* (dptr, hStream) */
		st.addr = p1;
		st.stream = p2;
		break;
	case CALL_MEM_MAP:                /* (ptr, size, offset, handle, flags) */
		st.addr = p1;
		st.bytes = p2;
		st.handle = p4;
		break;
	case CALL_MODULE_GET_FUNCTION:    /* (*hfunc, hmod, name) */
	case CALL_LIBRARY_GET_KERNEL:     /* (*pKernel, library, name) */
		st.out_ptr = p1;
		st.name_ptr = p3;
		break;
	case CALL_KERNEL_GET_FUNCTION:    /* (*pFunc, kernel) */
		st.out_ptr = p1;
		st.handle = p2;
		break;
	case CALL_STREAM_END_CAPTURE:     /* (hStream, *phGraph) */
		st.stream = p1;
		st.out_ptr = p2;
		break;
	case CALL_GRAPH_INSTANTIATE:      /* (*phGraphExec, hGraph, ...) */
		st.out_ptr = p1;
		st.graph = p2;
		break;
	}
	st.stream = cookie_stream(cookie, st.stream);
	if (bpf_map_update_elem(&call_args, &key, &st, BPF_ANY))
		count_drop(DROP_CUDA_ARGS);
	if (!is_wait(key.call))
		return 0;

	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		count_drop(DROP_CUDA_CALL);
		return 0;
	}
	fill_call(r, key.call, id, st.start, &st);
	r->ret = 0;
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

/* The handle the call wrote through its out pointer, read only when it succeeded. */
static __always_inline __u64 read_out(__u64 out_ptr, __s32 result)
{
	__u64 v = 0;

	if (out_ptr && result == 0)
		bpf_probe_read_user(&v, sizeof(v), (void *)out_ptr);
	return v;
}

static __always_inline bool out_is_handle(__u32 call)
{
	return call == CALL_MODULE_GET_FUNCTION || call == CALL_LIBRARY_GET_KERNEL ||
	       call == CALL_GRAPH_INSTANTIATE;
}

SEC("uretprobe")
int call_return(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key key = { .tid = (__u32)id, .call = cookie & COOKIE_CALL_MASK };
	__s32 result = PT_REGS_RC(ctx);
	__u64 now = bpf_ktime_get_ns();
	struct call_state *st;
	struct cuda_name_rec *n;
	struct cuda_rec *r;
	__u64 out;
	long len;

	st = bpf_map_lookup_elem(&call_args, &key);
	if (!st)
		return 0; /* entered before the probe was attached */
	out = read_out(st->out_ptr, result);

	if (key.call == CALL_MODULE_GET_FUNCTION || key.call == CALL_LIBRARY_GET_KERNEL) {
		n = bpf_ringbuf_reserve(&rb, sizeof(*n), 0);
		if (!n) {
			count_drop(DROP_CUDA_CALL);
			goto out;
		}
		r = &n->c;
		fill_call(r, key.call, id, now, st);
		len = bpf_probe_read_user_str(n->name, sizeof(n->name), (void *)st->name_ptr);
		n->name_len = len > 0 ? len - 1 : 0;
		n->_pad0 = 0;
		r->tag = REC_CUDA_NAME;
	} else {
		r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
		if (!r) {
			count_drop(DROP_CUDA_CALL);
			goto out;
		}
		fill_call(r, key.call, id, now, st);
	}
	if (out_is_handle(key.call))
		r->handle = out;
	else
		r->out = out;
	r->ret = 1;
	r->result = result;
	bpf_ringbuf_submit(r, rb_flags());
out:
	bpf_map_delete_elem(&call_args, &key);
	return 0;
}
