// Package load is the testbed's open-loop load generator: requests leave on a fixed or
// Poisson schedule whatever the server's speed (a concurrency cap bounds how many are
// open at once), with prompt and output lengths drawn from distributions, a mix of
// streamed and non-streamed, chat and plain completions, over-long prompts (400), client
// aborts mid-stream and bursts (429), all from one seed. Its HTTP/1.1 client is its own,
// over a pool of keep-alive connections, so it knows when each request's bytes left
// (send_ns, just before the write(2)) and when each SSE event arrived (right after the
// read(2) that completed it), in CLOCK_MONOTONIC like the server's ground truth; it
// writes what it saw as one JSON line per request.
package load
