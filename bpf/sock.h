/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * sock.h: the record sock.bpf.c writes.
 *
 * REC_SOCK is variable-size: struct sock_rec, then data_len bytes (the first bytes the
 * call moved), then tail_len bytes (the last bytes, when the call moved more than the
 * head holds; they never overlap the head). The record is naturally aligned with
 * explicit padding; its total length is sizeof(struct sock_rec) + data_len + tail_len.
 */
#ifndef __INFERPROBE_SOCK_H__
#define __INFERPROBE_SOCK_H__

/* Limits, as an enum so that bpf2go hands them to Go. */
enum sock_limits {
	/* The most payload bytes a record carries at the head (payload_max is capped to
	 * it) and at the tail. Both powers of two. */
	SOCK_PAYLOAD_MAX = 4096,
	SOCK_TAIL_MAX = 256,
	/* How many iovecs of a readv/writev/recvmsg/sendmsg are gathered. */
	SOCK_IOV_MAX = 4,
};

/* event.SockOp and event.Syscall values (tracer/event/enums.go; a test checks them). */
enum sock_op {
	SOCK_OP_READ = 1,
	SOCK_OP_WRITE = 2,
	SOCK_OP_ACCEPT = 3,
	SOCK_OP_CLOSE = 4,
	SOCK_OP_CONNECT = 5,
};

enum sock_sys {
	SYS_READ = 1,
	SYS_READV = 2,
	SYS_RECVFROM = 3,
	SYS_RECVMSG = 4,
	SYS_WRITE = 5,
	SYS_WRITEV = 6,
	SYS_SENDTO = 7,
	SYS_SENDMSG = 8,
	SYS_ACCEPT = 9,
	SYS_ACCEPT4 = 10,
	SYS_CLOSE = 11,
	SYS_CONNECT = 12,
};

/* REC_SOCK header. 72 bytes. */
struct sock_rec {
	__u32 tag;
	__u8 op;      /* enum sock_op */
	__u8 sys;     /* enum sock_sys */
	__u16 family; /* AF_* of the socket */
	__u32 pid;
	__u32 tid;
	__u64 ts;       /* syscall exit */
	__u64 start;    /* syscall entry */
	__u64 conn;     /* inode number of the socket, as /proc/PID/fd shows it (accept: of
			 * the new connection); unlike the struct sock's address, the kernel
			 * does not hand it to the next socket when this one closes */
	__u64 listener; /* accept: inode number of the listening socket */
	__s64 ret;
	__s32 fd; /* accept: the listener's fd; the new fd is ret */
	__u16 lport;
	__u16 rport;
	__u32 data_len;
	__u32 tail_len;
};

#endif /* __INFERPROBE_SOCK_H__ */
