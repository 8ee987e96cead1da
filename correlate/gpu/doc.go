// Package gpustep turns the CUDA driver events of a server's processes into GPU step
// records, CUDA errors, stalls, host-bound idle time and memory figures. It is pure: it
// imports only the standard library and tracer/event, reads no clock (callers pass `now`)
// and consumes one time-ordered stream of events.
//
// # Steps
//
// A GPU step is, on one thread (pid, tid), the work from the first launch after a
// blocking wait returns to the return of the next blocking wait (event.Call.IsWait:
// cuStreamSynchronize, cuEventSynchronize, cuCtxSynchronize, cuMemcpyDtoH, cuMemcpyHtoD).
// Its parts are the host gap (from the previous wait's return on the thread to the first
// launch: the GPU waiting on the CPU; unknown, nil, when no wait return has been seen on
// the thread before), the launch span (first to last launch) and the wait (the closing
// wait's duration: the CPU waiting on the GPU).
//
//   - Launches on a capturing stream (CUDA.Captured, or a stream between a successful
//     cuStreamBeginCapture and its cuStreamEndCapture) record a graph, are not executions
//     and neither open nor extend a step.
//   - A wait with no launch since the previous wait makes no step; its time still counts
//     in Usage.WaitNS and it still ends the host gap of the next step.
//   - Async copies and cuEventRecord are not waits: with the event-record + event-sync
//     pattern the step closes at cuEventSynchronize's return.
//   - Step IDs are given in the order steps open (their first launch), from 1; steps are
//     emitted when they close, so IDs of different threads may reach the Sink out of order.
//   - Steps are per OS thread, as the definition says: an engine that launches on one
//     thread and waits on another makes no steps (a Go engine must lock its step loop
//     to one OS thread, as a Python engine's loop is).
//   - A wait whose return record never comes (the thread shows up doing something else)
//     abandons the open step (Stats.AbandonedSteps) and makes the next host gap unknown.
//
// Kind: a step whose executions are graph launches, with at most Config.DecodeEagerMax
// eager kernel launches beside them (default 0: graph launches only), is "decode": engines
// such as vLLM and SGLang replay a captured CUDA graph per decode batch. Any other step
// (eager kernel launches: prefill, and mixed batches, which also run eagerly) is "prefill".
//
// # Errors
//
// Every return record whose Result is neither 0 (CUDA_SUCCESS) nor 600
// (CUDA_ERROR_NOT_READY) is an Error, classed as the design says: oom (2), sticky_fault
// (700, 702, 714-719: the process must restart), ecc (214), launch_resources (701),
// other. An error at a wait belongs to the step that wait closes (Step.Result carries it);
// at a wait that closes no step, to the thread's previous step (a sticky fault shows at
// the next wait after the kernel that caused it); elsewhere, to the thread's open step,
// if any (Error.StepID, 0 for none).
//
// # Stalls
//
// A wait whose entry has been seen and whose return has not is in flight; Stalls(now)
// lists those in flight for at least Config.StallAfter (default 5 s). When the return
// arrives, a wait that lasted at least StallAfter is sent to Sink.Stall with its total
// length.
//
// # Memory
//
// Per process: bytes allocated by successful cuMemAlloc, cuMemAllocAsync (by device
// pointer) and cuMemCreate (by allocation handle), freed by cuMemFree, cuMemFreeAsync
// (by address) and cuMemRelease (by handle). cuMemMap maps memory cuMemCreate already
// counted and is not counted again. Figures cover what was traced: memory allocated
// before the tracer attached is not known, and frees of it count as UnknownFrees. A
// marker time (SetMarker: the unit's first served request) splits live memory into
// Before (weights, preallocated caches: stable) and After (dynamic).
//
// # Multi-worker units
//
// Joiner groups the steps of the processes of one serving unit (tensor-parallel workers)
// that overlap in time, or that trail the others' parts when a worker fell behind, into
// UnitSteps; its doc says when a unit step is complete.
package gpustep
