// Package frontend is the testbed's OpenAI-compatible API server, the Go counterpart of
// vLLM's API server process: a hand-rolled HTTP/1.1 server on a net.Listener (keep-alive,
// pipelining, 100-continue) that validates completions, hands them to the engine core
// over testbed/proto, and streams each generated token as one SSE chunk in one write(2),
// recording the ground truth (arrival after the read(2) of the request line, each
// token's write, the end) that inferprobe's socket-level view is checked against.
//
// The core runs in the same process (--procs 1, any Core) or as a child process over a
// unix socket (--procs 2, Remote).
package frontend
