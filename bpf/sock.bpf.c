// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * sock.bpf.c: socket syscalls of tracked processes, from the syscall tracepoints (no
 * kprobes needed).
 *
 * Hooks: syscalls/sys_enter_X for read, readv, recvfrom, recvmsg, write, writev, sendto,
 * sendmsg, accept, accept4, close and connect (one program each), and sys_exit_X of the
 * same twelve (one program, sys_exit_sock, attached to each).
 *
 * On entry, a process not in the tracked map is left at once. The fd is resolved to its
 * struct file through the current task's fd table (bounds-checked against max_fds); only
 * sockets (S_ISSOCK) are kept, so writes to files and pipes are never recorded. A
 * connection is named by its socket's inode number. The arguments are saved per thread;
 * accept saves the listener's socket, close the socket's ports (the socket may be freed
 * by the time close returns).
 *
 * On exit, one REC_SOCK record (sock.h) is emitted with the return value (none for a
 * read, write or accept that failed with EAGAIN: a non-blocking socket with nothing to
 * do) and, for reads and writes that moved bytes, up to payload_max bytes from the head
 * of the data (reads: from the buffer after the call filled it) and up to SOCK_TAIL_MAX
 * from its end, gathered across up to SOCK_IOV_MAX iovecs. The record is built in a
 * per-CPU scratch buffer and copied with bpf_ringbuf_output; failures are counted as
 * DROP_SOCK.
 *
 * Knob (const volatile, set before load): payload_max, capped by SOCK_PAYLOAD_MAX.
 * Minimum kernel: 5.8 (ring buffer); tracefs must be mounted for syscall tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "common.h"
#include "sock.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Bytes of payload copied from the head of each read or write (0: none). */
const volatile __u32 payload_max = 512;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EAGAIN 11

enum arg_kind {
	ARG_NONE = 0,
	ARG_BUF = 1, /* buf is the data buffer */
	ARG_IOV = 2, /* buf is an iovec array of count entries */
	ARG_MSG = 3, /* buf is a struct user_msghdr */
};

/* A syscall's entry, saved per thread until it returns. */
struct sock_args {
	__u64 start;
	__u64 buf;
	__u64 count;
	__u64 sk;       /* struct sock *, for the ports */
	__u64 ino;      /* the socket's inode number: the record's conn */
	__u64 listener; /* accept: the listener's inode number */
	__s32 fd;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 op;
	__u8 sys;
	__u8 kind;
	__u8 _pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct sock_args);
} sock_args SEC(".maps");

/* A record being built: the header, then room for the head and the tail. The area is
 * twice the largest head so that every bounded offset plus bounded length fits, which
 * is what the verifier checks. */
struct sock_scratch {
	struct sock_rec rec;
	__u8 buf[2 * SOCK_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sock_scratch);
} scratch SEC(".maps");

/* Emit BTF for the types user space decodes with (bpf2go -type). */
const struct sock_rec *unused_sock_rec __attribute__((unused));
const enum sock_op *unused_sock_op __attribute__((unused));
const enum sock_sys *unused_sock_sys __attribute__((unused));
const enum sock_limits *unused_sock_limits __attribute__((unused));

/* The struct sock behind fd of the current task and its inode number in *ino, or NULL
 * when fd is not a socket. */
static __always_inline struct sock *fd_sock(__s64 fd, __u64 *ino)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;
	struct inode *inode;
	struct socket *so;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	inode = BPF_CORE_READ(f, f_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	*ino = BPF_CORE_READ(inode, i_ino);
	so = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(so, sk);
}

static __always_inline void sock_ports(struct sock *sk, struct sock_args *a)
{
	a->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	a->lport = 0;
	a->rport = 0;
	if (a->family == 2 /* AF_INET */ || a->family == 10 /* AF_INET6 */) {
		a->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		a->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
}

static __always_inline int sock_enter(__s64 fd, __u8 op, __u8 sys, __u8 kind, __u64 buf, __u64 count)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct sock_args a = {};
	struct sock *sk;
	__u64 ino = 0;

	if (!is_tracked(id >> 32))
		return 0;
	sk = fd_sock(fd, &ino);
	if (!sk)
		return 0;
	a.start = bpf_ktime_get_ns();
	a.fd = fd;
	a.op = op;
	a.sys = sys;
	a.kind = kind;
	a.buf = buf;
	a.count = count;
	if (op == SOCK_OP_ACCEPT) {
		a.listener = ino;
	} else {
		a.sk = (__u64)sk;
		a.ino = ino;
		sock_ports(sk, &a);
	}
	if (bpf_map_update_elem(&sock_args, &tid, &a, BPF_ANY))
		count_drop(DROP_SOCK_ARGS);
	return 0;
}

/* The user memory a read or write moved, as up to SOCK_IOV_MAX segments. */
struct segs {
	__u64 base[SOCK_IOV_MAX];
	__u64 len[SOCK_IOV_MAX];
	__u32 n;
};

static __always_inline void load_segs(const struct sock_args *a, __s64 ret, struct segs *sg)
{
	struct iovec iov;
	__u64 iovp = a->buf, cnt = a->count;

	if (a->kind == ARG_BUF) {
		/* ret can exceed the buffer (recv with MSG_TRUNC): never read past it */
		sg->base[0] = a->buf;
		sg->len[0] = (__u64)ret < a->count ? (__u64)ret : a->count;
		sg->n = 1;
		return;
	}
	if (a->kind == ARG_MSG) {
		struct user_msghdr msg;

		if (bpf_probe_read_user(&msg, sizeof(msg), (void *)a->buf))
			return;
		iovp = (__u64)msg.msg_iov;
		cnt = msg.msg_iovlen;
	}
#pragma unroll
	for (int i = 0; i < SOCK_IOV_MAX; i++) {
		if (i >= cnt)
			break;
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(iovp + i * sizeof(iov))))
			break;
		sg->base[i] = (__u64)iov.iov_base;
		sg->len[i] = iov.iov_len;
		sg->n = i + 1;
	}
}

/* Copies bytes [from, from + want) of the segments to dst; returns how many it copied.
 * want <= cap; dst has room for 2 * cap bytes. */
static __always_inline __u32 gather(__u8 *dst, const struct segs *sg, __u64 from, __u32 want, const __u32 cap)
{
	__u64 pos = 0, need, c;
	__u32 done = 0;

#pragma unroll
	for (int i = 0; i < SOCK_IOV_MAX; i++) {
		if (i >= sg->n || done >= want)
			break;
		need = from + done;
		if (need >= pos && need < pos + sg->len[i]) {
			c = pos + sg->len[i] - need;
			if (c > want - done)
				c = want - done;
			if (c > cap)
				c = cap;
			barrier_var(c);
			if (done >= cap)
				break;
			barrier_var(done);
			bpf_probe_read_user(dst + done, c, (void *)(sg->base[i] + (need - pos)));
			done += c;
		}
		pos += sg->len[i];
	}
	return done;
}

SEC("tracepoint/syscalls/sys_exit")
int sys_exit_sock(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	__u32 data_len = 0, tail_len = 0, head, size;
	struct sock_scratch *s;
	struct sock_args *ap, a;
	struct segs sg = {};
	__s64 ret = ctx->ret;
	struct sock *sk;

	if (!is_tracked(id >> 32))
		return 0;
	ap = bpf_map_lookup_elem(&sock_args, &tid);
	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&sock_args, &tid);
	/* A non-blocking read, write or accept that would block did nothing: no record. */
	if (ret == -EAGAIN && a.op != SOCK_OP_CLOSE && a.op != SOCK_OP_CONNECT)
		return 0;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;

	if (a.op == SOCK_OP_ACCEPT && ret >= 0) {
		sk = fd_sock(ret, &a.ino);
		a.sk = (__u64)sk;
		if (sk)
			sock_ports(sk, &a);
	} else if (a.op == SOCK_OP_CONNECT) {
		sock_ports((struct sock *)a.sk, &a);
	}

	if ((a.op == SOCK_OP_READ || a.op == SOCK_OP_WRITE) && ret > 0 && payload_max > 0) {
		load_segs(&a, ret, &sg);
		head = payload_max < SOCK_PAYLOAD_MAX ? payload_max : SOCK_PAYLOAD_MAX;
		if (ret < head)
			head = ret;
		data_len = gather(s->buf, &sg, 0, head, SOCK_PAYLOAD_MAX);
		if (data_len > SOCK_PAYLOAD_MAX)
			data_len = SOCK_PAYLOAD_MAX;
		barrier_var(data_len);
		if (ret > head) {
			tail_len = ret - head < SOCK_TAIL_MAX ? ret - head : SOCK_TAIL_MAX;
			tail_len = gather(s->buf + data_len, &sg, ret - tail_len, tail_len, SOCK_TAIL_MAX);
			if (tail_len > SOCK_TAIL_MAX)
				tail_len = SOCK_TAIL_MAX;
			barrier_var(tail_len);
		}
	}

	s->rec.tag = REC_SOCK;
	s->rec.op = a.op;
	s->rec.sys = a.sys;
	s->rec.family = a.family;
	s->rec.pid = id >> 32;
	s->rec.tid = tid;
	s->rec.ts = bpf_ktime_get_ns();
	s->rec.start = a.start;
	s->rec.conn = a.ino;
	s->rec.listener = a.listener;
	s->rec.ret = ret;
	s->rec.fd = a.fd;
	s->rec.lport = a.lport;
	s->rec.rport = a.rport;
	s->rec.data_len = data_len;
	s->rec.tail_len = tail_len;
	size = sizeof(s->rec) + data_len + tail_len;
	if (size > sizeof(*s))
		size = sizeof(*s);
	barrier_var(size);
	if (bpf_ringbuf_output(&rb, s, size, rb_flags()))
		count_drop(DROP_SOCK);
	return 0;
}

#define SOCK_ENTER(name, op, sys, kind, bufarg, countarg)                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                         \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)                         \
	{                                                                                   \
		return sock_enter((int)ctx->args[0], op, sys, kind, bufarg, countarg);      \
	}

SOCK_ENTER(read, SOCK_OP_READ, SYS_READ, ARG_BUF, ctx->args[1], ctx->args[2])
SOCK_ENTER(readv, SOCK_OP_READ, SYS_READV, ARG_IOV, ctx->args[1], ctx->args[2])
SOCK_ENTER(recvfrom, SOCK_OP_READ, SYS_RECVFROM, ARG_BUF, ctx->args[1], ctx->args[2])
SOCK_ENTER(recvmsg, SOCK_OP_READ, SYS_RECVMSG, ARG_MSG, ctx->args[1], 0)
SOCK_ENTER(write, SOCK_OP_WRITE, SYS_WRITE, ARG_BUF, ctx->args[1], ctx->args[2])
SOCK_ENTER(writev, SOCK_OP_WRITE, SYS_WRITEV, ARG_IOV, ctx->args[1], ctx->args[2])
SOCK_ENTER(sendto, SOCK_OP_WRITE, SYS_SENDTO, ARG_BUF, ctx->args[1], ctx->args[2])
SOCK_ENTER(sendmsg, SOCK_OP_WRITE, SYS_SENDMSG, ARG_MSG, ctx->args[1], 0)
SOCK_ENTER(accept, SOCK_OP_ACCEPT, SYS_ACCEPT, ARG_NONE, 0, 0)
SOCK_ENTER(accept4, SOCK_OP_ACCEPT, SYS_ACCEPT4, ARG_NONE, 0, 0)
SOCK_ENTER(close, SOCK_OP_CLOSE, SYS_CLOSE, ARG_NONE, 0, 0)
SOCK_ENTER(connect, SOCK_OP_CONNECT, SYS_CONNECT, ARG_NONE, 0, 0)
