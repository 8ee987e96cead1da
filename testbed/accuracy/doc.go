// Package accuracy compares what inferprobe reconstructed (correlate's request and step
// records) with the testbed's ground truth, request by request (matched by response id)
// and step by step (matched by time), and checks the accuracy bar of the reconstruction
// issue: every request found once, status and class right, TTFT and E2E within 1 ms for
// 99%, TPOT, queue, prefill and decode within max(2 ms, 5%) for 95%, batch size equal for
// 95% of steps. The end-to-end tests in this package run each testbed mode under load,
// recorded by inferprobe, as root. A run keeps its artifacts with
// INFERPROBE_ACCURACY_KEEP=DIR (DIR/<mode>/truth.jsonl, client.jsonl, record/...), and
// TestReplayKept re-correlates a kept run's raw events (INFERPROBE_ACCURACY_REPLAY=DIR),
// without root, to check a correlation change on the same recordings.
package accuracy
