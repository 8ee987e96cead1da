/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * cuda.h: the records cuda.bpf.c writes, and the CUDA driver ABI it reads.
 *
 * Every record starts with the __u32 tag of enum rec_tag; fields are naturally aligned
 * and padded by hand. The attach cookie of every CUDA program is an event.Call value
 * (the low 16 bits) ORed with enum cookie_flags.
 */
#ifndef __INFERPROBE_CUDA_H__
#define __INFERPROBE_CUDA_H__

/* Bits of the attach cookie above the event.Call value. */
enum cookie_flags {
	COOKIE_CALL_MASK = 0xffff,
	/* The symbol is a _ptsz/_ptds variant: a 0 stream means the per-thread default
	 * stream, reported as CU_STREAM_PER_THREAD. */
	COOKIE_PER_THREAD = 1 << 16,
};

/* cuda.h: CU_STREAM_PER_THREAD. */
#define CU_STREAM_PER_THREAD 2

/* The event.Call values the programs switch on (tracer/event/enums.go); a test checks
 * each against its Go constant. */
enum cuda_call {
	CALL_LAUNCH_KERNEL = 1,
	CALL_LAUNCH_KERNEL_EX = 2,
	CALL_LAUNCH_COOPERATIVE_KERNEL = 3,
	CALL_GRAPH_LAUNCH = 4,
	CALL_STREAM_SYNCHRONIZE = 5,
	CALL_EVENT_SYNCHRONIZE = 6,
	CALL_CTX_SYNCHRONIZE = 7,
	CALL_MEMCPY_DTOH = 8,
	CALL_MEMCPY_HTOD = 9,
	CALL_MEMCPY_ASYNC = 10,
	CALL_MEMCPY_DTOH_ASYNC = 11,
	CALL_MEMCPY_HTOD_ASYNC = 12,
	CALL_EVENT_RECORD = 13,
	CALL_MEM_ALLOC = 14,
	CALL_MEM_ALLOC_ASYNC = 15,
	CALL_MEM_FREE = 16,
	CALL_MEM_FREE_ASYNC = 17,
	CALL_MEM_CREATE = 18,
	CALL_MEM_MAP = 19,
	CALL_MEM_RELEASE = 20,
	CALL_MODULE_GET_FUNCTION = 21,
	CALL_LIBRARY_GET_KERNEL = 22,
	CALL_KERNEL_GET_FUNCTION = 23,
	CALL_STREAM_BEGIN_CAPTURE = 24,
	CALL_STREAM_END_CAPTURE = 25,
	CALL_GRAPH_INSTANTIATE = 26,
};

enum cuda_limits {
	/* The longest kernel name a name record carries, NUL included; longer names are
	 * cut. */
	CUDA_NAME_MAX = 1024,
};

/* REC_CUDA_LAUNCH: a kernel or graph launch, at entry. 64 bytes. */
struct cuda_launch_rec {
	__u32 tag;
	__u16 call;
	__u16 _pad0;
	__u32 pid;
	__u32 tid;
	__u64 ts;
	__u64 handle; /* CUfunction or CUkernel; CUgraphExec for cuGraphLaunch */
	__u64 stream;
	__u32 grid[3];
	__u32 block[3];
};

/* REC_CUDA_CALL: any other probed call; an entry record (ret 0) for waits, a return
 * record (ret 1) for every call with a return probe. 88 bytes. */
struct cuda_rec {
	__u32 tag;
	__u16 call;
	__u8 ret;
	__u8 _pad0;
	__u32 pid;
	__u32 tid;
	__u64 ts;
	__u64 start;
	__u64 stream;
	__u64 handle;
	__u64 out;
	__u64 bytes;
	__u64 addr;
	__u64 graph; /* the CUgraph cuGraphInstantiate instantiated */
	__s32 result; /* CUresult, return records only */
	__u32 _pad1;
};

/* REC_CUDA_NAME: the return of a name lookup (cuModuleGetFunction,
 * cuLibraryGetKernel): a cuda_rec, then the name looked up. */
struct cuda_name_rec {
	struct cuda_rec c;
	__u32 name_len; /* bytes of name before its NUL */
	__u32 _pad0;
	char name[CUDA_NAME_MAX];
};

/* cuda.h: CUlaunchConfig, as far as cuLaunchKernelEx's probe reads it. */
struct cu_launch_config {
	__u32 grid[3];
	__u32 block[3];
	__u32 shared_mem_bytes;
	__u32 _pad0;
	__u64 stream;
};

#endif /* __INFERPROBE_CUDA_H__ */
