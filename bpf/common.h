/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * common.h: what every probe family shares, included by cuda.bpf.c, sock.bpf.c and
 * proc.bpf.c.
 *
 * Record contract: every record on the ring buffer starts with a __u32 tag (enum
 * rec_tag) that says which struct follows; each struct is naturally aligned with
 * explicit padding and no packing, and user space decodes it through the bpf2go -type
 * declaration of the same struct. Records are read in the order the kernel reserved
 * them, which keeps the global order across CPUs because the ring is shared.
 *
 * Maps shared by the three objects (declared identically in each; user space loads the
 * proc object first and hands its maps to the other two as replacements):
 *   rb      one ring buffer for every record (size set by user space before load)
 *   tracked thread group id -> TRACK_* flags: the processes whose sockets and lifecycle
 *           are traced; user space fills it, sched_process_fork adds the children of
 *           tracked processes, sched_process_exit deletes a process when it dies
 *   drops   per-CPU count of records lost (ring full, scratch failure), by enum drop_reason
 *
 * Knob (const volatile, set before load, in each object): wakeup_bytes.
 *
 * Minimum kernel: 5.15 (ring buffer 5.8, bpf_get_current_task_btf 5.11, uprobe attach
 * cookies 5.15).
 */
#ifndef __INFERPROBE_COMMON_H__
#define __INFERPROBE_COMMON_H__

/* Tags of the records on the ring buffer. 0 is never a valid tag. */
enum rec_tag {
	REC_CUDA_LAUNCH = 1, /* struct cuda_launch_rec */
	REC_CUDA_CALL = 2,   /* struct cuda_rec */
	REC_CUDA_NAME = 3,   /* struct cuda_name_rec */
	REC_SOCK = 4,        /* struct sock_rec + data_len + tail_len bytes */
	REC_PROC = 5,        /* struct proc_rec */
};

/* Why a record was lost: the index into the drops map. */
enum drop_reason {
	DROP_CUDA_LAUNCH = 0, /* ring full at a launch */
	DROP_CUDA_CALL = 1,   /* ring full at another CUDA call */
	DROP_CUDA_ARGS = 2,   /* entry state not saved: a return record will be missing */
	DROP_SOCK = 3,        /* ring full at a socket syscall */
	DROP_SOCK_ARGS = 4,   /* entry state not saved: a socket syscall is missing */
	DROP_PROC = 5,        /* ring full at exec, exit or fork */
	DROP_MAX = 6,
};

/* Values of the tracked map. */
enum track_flags {
	TRACK_ON = 1, /* trace this process's sockets and lifecycle */
};

#define MAX_TRACKED 8192

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_TRACKED);
	__type(key, __u32);
	__type(value, __u32);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Wake the reader only once this many bytes wait in the ring (set before load; 0:
 * wake at every record). The reader also polls on a short timer, so records never wait
 * long; batching the wakeups keeps them off the probed thread's path. */
const volatile __u32 wakeup_bytes = 0;

/* The flags of a ringbuf submit or output: a wakeup only when enough is waiting. */
static __always_inline __u64 rb_flags(void)
{
	if (wakeup_bytes == 0 || bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);

	if (n)
		*n += 1;
}

static __always_inline bool is_tracked(__u32 tgid)
{
	return bpf_map_lookup_elem(&tracked, &tgid) != NULL;
}

#endif /* __INFERPROBE_COMMON_H__ */
