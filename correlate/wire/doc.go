// Package wire turns captured socket syscalls into HTTP/1.1 exchanges with per-token timing.
//
// It owns the wire-level parsing of the correlation layer: incremental HTTP/1.1 request
// and response parsers (content-length, chunked and close-delimited bodies, keep-alive,
// pipelining, 100-continue), the SSE parser and classifier for OpenAI-style, TGI, SGLang
// and llama.cpp streams, the extraction of ids, usage and context-length errors from
// non-streamed bodies, early recognition of connections that are not HTTP/1.1 (TLS, ZMQ,
// HTTP/2, binary), and the Tracker that follows every connection and emits Exchange
// records and live gauge hooks.
//
// Every parser is a pure function of the bytes it is fed. Input arrives as Fragments:
// what one syscall moved, of which only a captured prefix (and maybe a tail) is known.
// The parsers keep their framing in step with the true lengths, skip the bytes that were
// not captured, and recover at the next fragment that starts on a message boundary when a
// gap swallowed framing they needed; what was lost is reported as Degraded.
//
// The package imports only the standard library and tracer/event, and never touches the
// kernel, /proc or the network.
package wire
