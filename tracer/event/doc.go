// Package event holds the typed events that are the one contract between capture
// (tracer/) and correlation (correlate/). It imports nothing of the kernel side, so
// correlate/ and offline tools (replay, golden tests) build and run without root.
//
// Every timestamp is CLOCK_MONOTONIC nanoseconds, as bpf_ktime_get_ns returns it.
// A stream of events is ordered by TS (the time the record was emitted); records that
// cover an interval (a call with its return, a syscall) carry their entry time in Start.
package event
