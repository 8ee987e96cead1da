// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * proc.bpf.c: the lifecycle of tracked processes, from BTF-enabled raw tracepoints.
 *
 * Hooks:
 *   tp_btf/sched_process_fork  a tracked process forked a new process (not a thread): the
 *                              child enters the tracked map at once, before it runs, so
 *                              none of its sockets is missed; REC_PROC fork
 *   tp_btf/sched_process_exec  a tracked process exec'd; REC_PROC exec (new comm)
 *   tp_btf/sched_process_exit  the last thread of a tracked process exited (its signal
 *                              struct's live count is 0: the whole group is dead): the
 *                              process leaves the tracked map; REC_PROC exit with the
 *                              wait(2) status
 *
 * Each program checks the tracked map first (fork: the parent's). Records: proc.h.
 * Minimum kernel: 5.5 (tp_btf), 5.8 (ring buffer).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.h"
#include "proc.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Emit BTF for the types user space decodes with (bpf2go -type). */
const struct proc_rec *unused_proc_rec __attribute__((unused));
const enum proc_op *unused_proc_op __attribute__((unused));
const enum track_flags *unused_track_flags __attribute__((unused));

static __always_inline void emit(__u8 op, struct task_struct *p, __u32 ppid, __s32 code)
{
	struct proc_rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

	if (!r) {
		count_drop(DROP_PROC);
		return;
	}
	r->tag = REC_PROC;
	r->op = op;
	r->_pad0[0] = r->_pad0[1] = r->_pad0[2] = 0;
	r->pid = BPF_CORE_READ(p, tgid);
	r->tid = BPF_CORE_READ(p, pid);
	r->ppid = ppid;
	r->code = code;
	r->ts = bpf_ktime_get_ns();
	r->start_ns = BPF_CORE_READ(p, group_leader, start_time);
	BPF_CORE_READ_STR_INTO(&r->comm, p, comm);
	bpf_ringbuf_submit(r, rb_flags());
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	__u32 *flags = bpf_map_lookup_elem(&tracked, &ptgid);
	__u32 v;

	if (!flags || ctgid == ptgid)
		return 0;
	v = *flags;
	bpf_map_update_elem(&tracked, &ctgid, &v, BPF_ANY);
	emit(PROC_OP_FORK, child, ptgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!is_tracked(tgid))
		return 0;
	emit(PROC_OP_EXEC, p, BPF_CORE_READ(p, real_parent, tgid), 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (!is_tracked(tgid))
		return 0;
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* another thread of the process still runs */
	emit(PROC_OP_EXIT, p, BPF_CORE_READ(p, real_parent, tgid), BPF_CORE_READ(p, exit_code));
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}
