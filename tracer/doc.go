// Package tracer is inferprobe's capture: it loads the eBPF programs of ../bpf (the
// committed bpf2go output; see gen.go), finds the processes to trace and their libcuda,
// attaches the probes, reads the one ring buffer and decodes each record into a typed
// event of tracer/event.
//
// Three probe families share the ring, so the stream keeps the kernel's global order:
// CUDA driver calls (uprobes on libcuda, attached per traced process with its pid, so an
// untraced process never traps), socket syscalls (syscall tracepoints filtered on the
// kernel's tracked map) and process lifecycle (fork, exec, exit; a traced process's
// children are traced from their fork).
//
// What to trace comes from Config: pids, cgroups, or every process that maps libcuda
// (auto). A periodic rescan attaches to processes that map libcuda later and, in auto
// mode or for cgroups, finds new processes. Run hands out events in order; launches
// carry the kernel name when its lookup was seen, and are marked when their stream was
// capturing a graph. Stats counts events, drops and attach failures; Preflight says what
// a host lacks. The decoders (Decode) are pure and run without root; the kernel tests
// need root and skip, saying why, elsewhere.
package tracer
