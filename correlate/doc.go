// Package correlate turns a time-ordered stream of typed events (tracer/event) into
// finished request records, GPU step records and live gauges, as design.md defines them.
//
// It is pure Go: it never touches the kernel, /proc, NVML or the network, so a raw event
// stream recorded on a real node replays offline into the same records. The wire side
// (HTTP/SSE over socket syscalls) lives in correlate/wire, the GPU side (steps from
// launches and waits) in correlate/gpustep; this package groups processes into serving
// units and joins the two: which step produced which request's tokens.
package correlate
