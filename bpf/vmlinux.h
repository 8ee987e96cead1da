/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * vmlinux.h, trimmed: only the kernel types inferprobe's programs read, cut from
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format c` (Linux 6.18, x86-64).
 *
 * Kernel structs are declared with preserve_access_index, so each field access is a
 * CO-RE relocation resolved against the running kernel's BTF at load: a struct lists
 * only the fields the programs read, in any order, and offsets come from the kernel.
 * Layouts that are ABI (pt_regs, the syscall tracepoint contexts, user-space iovec and
 * msghdr) are declared whole and exact. To add a field, copy its declaration from a
 * full dump of /sys/kernel/btf/vmlinux.
 */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short int __s16;
typedef short unsigned int __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long int __s64;
typedef long long unsigned int __u64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef int pid_t;
typedef unsigned short umode_t;
typedef long unsigned int __kernel_size_t;
typedef __kernel_size_t size_t;

/* uapi/linux/bpf.h: the values the programs use. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

/* x86-64 user registers at a uprobe (arch/x86/include/asm/ptrace.h), exact layout. */
struct pt_regs {
	long unsigned int r15;
	long unsigned int r14;
	long unsigned int r13;
	long unsigned int r12;
	long unsigned int bp;
	long unsigned int bx;
	long unsigned int r11;
	long unsigned int r10;
	long unsigned int r9;
	long unsigned int r8;
	long unsigned int ax;
	long unsigned int cx;
	long unsigned int dx;
	long unsigned int si;
	long unsigned int di;
	long unsigned int orig_ax;
	long unsigned int ip;
	long unsigned int cs;
	long unsigned int flags;
	long unsigned int sp;
	long unsigned int ss;
};

/* Syscall tracepoint contexts (events/syscalls/sys_{enter,exit}_X/format), exact layout. */
struct trace_entry {
	short unsigned int type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long int id;
	long unsigned int args[6];
};

struct trace_event_raw_sys_exit {
	struct trace_entry ent;
	long int id;
	long int ret;
};

/* User-space ABI (uapi/linux/uio.h, include/linux/socket.h), exact layout. */
struct iovec {
	void *iov_base;
	__kernel_size_t iov_len;
};

struct user_msghdr {
	void *msg_name;
	int msg_namelen;
	struct iovec *msg_iov;
	__kernel_size_t msg_iovlen;
	void *msg_control;
	__kernel_size_t msg_controllen;
	unsigned int msg_flags;
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

struct inode {
	umode_t i_mode;
	long unsigned int i_ino;
};

struct file {
	void *private_data;
	struct inode *f_inode;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct sock_common {
	__be16 skc_dport;
	__u16 skc_num;
	short unsigned int skc_family;
};

struct sock {
	struct sock_common __sk_common;
};

struct socket {
	struct sock *sk;
};

struct signal_struct {
	atomic_t live;
};

struct task_struct {
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	u64 start_time;
	int exit_code;
	char comm[16];
	struct files_struct *files;
	struct signal_struct *signal;
};

struct linux_binprm;

#pragma clang attribute pop

#endif /* __VMLINUX_H__ */
