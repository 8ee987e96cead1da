/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * proc.h: the record proc.bpf.c writes. Naturally aligned, explicit padding.
 */
#ifndef __INFERPROBE_PROC_H__
#define __INFERPROBE_PROC_H__

/* event.ProcOp values (tracer/event/enums.go; a test checks them). */
enum proc_op {
	PROC_OP_FORK = 2,
	PROC_OP_EXEC = 3,
	PROC_OP_EXIT = 4,
};

/* REC_PROC: a tracked process forked a child, exec'd, or died. 56 bytes. */
struct proc_rec {
	__u32 tag;
	__u8 op; /* enum proc_op */
	__u8 _pad0[3];
	__u32 pid;      /* the process the record is about (fork: the child) */
	__u32 tid;      /* the thread that caused it (fork: the child's first thread) */
	__u32 ppid;     /* parent's thread group id */
	__s32 code;     /* exit: the wait(2) status */
	__u64 ts;
	__u64 start_ns; /* the process's start, CLOCK_MONOTONIC ns */
	char comm[16];
};

#endif /* __INFERPROBE_PROC_H__ */
