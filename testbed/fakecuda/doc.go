// Package fakecuda builds and drives a simulated CUDA driver, so inferprobe's capture
// (uprobes on libcuda.so) is tested on machines without a GPU.
//
// # The library
//
// libcuda.so.1 (fakecuda.c and the files beside it; api.h lists every export) exports
// the driver API entry points the tracer probes, in all their variants (_v2, _ptsz,
// _ptds), with cuda.h's signatures and structure layouts (cuda_min.h). Each entry point
// is its own function with its own address and prologue (-fno-ipa-icf,
// -fno-omit-frame-pointer, noinline) and never calls another, so a uprobe fires once per
// call. cuGetProcAddress_v2 hands out the same addresses, per-thread variants included.
//
// It simulates one device. Each stream has a timeline: the CLOCK_MONOTONIC time its
// queued work completes. A launch returns at once and queues its kernel's cost,
// base_ns + per_block_ns * gridX*gridY*gridZ, starting at max(now, the stream's
// completion); the legacy default stream (0) orders with every blocking stream, as in
// CUDA, and the per-thread default stream (CU_STREAM_PER_THREAD, or 0 in a _ptsz call)
// is one blocking stream per thread. Waits (cuStreamSynchronize, cuEventSynchronize,
// cuCtxSynchronize, synchronous cuMemcpyDtoH/HtoD) sleep until the completion they wait
// for (clock_nanosleep, then a spin over the last 20 us). Async copies queue
// bytes / FAKECUDA_COPY_GBPS. A launch on a capturing stream adds its cost to the graph
// and does not run; cuGraphLaunch queues the graph's total. Allocations count against
// the device memory and fail with CUDA_ERROR_OUT_OF_MEMORY (2) past it. Module and
// library images are lists of the kernel names they define ("*": any name); looking up
// another name gives CUDA_ERROR_NOT_FOUND (500). Threads need a current context
// (cuCtxSetCurrent), as with the real driver.
//
// # Environment
//
//	FAKECUDA_COST="name=base:per,..."  kernel costs in ns; "*" is any other kernel
//	                                   (built in: BuiltinCosts, "*=4000:20,fakecuda_noop=0:0")
//	FAKECUDA_COPY_GBPS=25              copy bandwidth, GB/s (bytes per ns)
//	FAKECUDA_MEM_BYTES=80GiB           device memory (bytes; K M G T KiB MiB GiB TiB suffixes)
//	FAKECUDA_FAULT="wait:N:700,..."    the Nth call of a class returns that CUresult; classes:
//	                                   wait, launch (kernel and graph launches, captured ones
//	                                   too), alloc (cuMemAlloc, cuMemAllocAsync, cuMemCreate);
//	                                   sticky codes 700, 702, 714-719 then fail every later
//	                                   call that needs the context
//	FAKECUDA_STALL="wait:N:MS,..."     the Nth wait blocks MS ms more (a hung GPU);
//	                                   "launch:N:MS" makes the Nth launch's work MS ms longer
//
// A bad value makes cuInit fail with CUDA_ERROR_INVALID_VALUE and says why on stderr.
//
// # The workload
//
// cudriver (cudriver.c) dlopens libcuda.so.1 and calls through pointers, never linking
// it. `cudriver script REPORT.json` sets up (phase 1: cuInit, the primary context,
// streams S0 blocking and S1 non-blocking, a module, a library, cuModuleGetFunction
// "early_kernel"; no wait, launch or allocation), prints "ready <pid>", waits for a
// stdin line, then runs phase 2: two threads, thread 0 on S0 through dlsym'd symbols,
// thread 1 on S1 through cuGetProcAddress_v2's per-thread (_ptsz/_ptds) symbols, each
// making the calls ScriptSymbols lists (cudriver_script.c says what each does). Over
// both threads that is 14 waits, 16 kernel launches (6 of them captured), 6 graph
// launches, 6 async copies, 6 allocations (one, thread 0's, out of memory) and one
// failed lookup (thread 1's "missing_kernel", 500). The report is a
// JSON array of ReportCall in call order. `cudriver bench launch|sync|stream-sync N`
// times N zero-cost calls and prints "ns_per_call <float>"; `cudriver loop SECONDS`
// runs a steady decode-like loop (cudriver_loop.c). StartScript, StartBench and
// StartLoop run them; BuildForTest builds both once per test binary.
//
// The C files start with "//go:build ignore" so the go tool does not take them for cgo
// sources; gcc reads the line as a comment. `make OUT=dir` builds the same two files
// with the same flags as Build.
package fakecuda
