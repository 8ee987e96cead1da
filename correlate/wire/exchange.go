package wire

import (
	"strings"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Side is which end of an exchange the traced process is.
type Side uint8

const (
	SideUnknown Side = iota
	// SideServer: the process read the request (an inference server's front end).
	SideServer
	// SideClient: the process wrote the request (an outgoing hop: a router, a proxy).
	SideClient
)

func (s Side) String() string {
	switch s {
	case SideServer:
		return "server"
	case SideClient:
		return "client"
	}
	return "unknown"
}

// EndReason is how an exchange ended.
type EndReason uint8

const (
	EndNone EndReason = iota
	// EndComplete: the response completed ([DONE], the last chunk, content-length reached).
	// An exchange whose [DONE] was seen but whose last chunk never came (the connection
	// ended first) ends complete at the [DONE] write.
	EndComplete
	// EndClose: a close-delimited response ended with the connection.
	EndClose
	// EndAbort: the client went away first (server side: end of file or a reset from the
	// peer, a write that failed with EPIPE; client side: the process closed first).
	EndAbort
	// EndPeerClose: client side, the server closed before the response completed.
	EndPeerClose
	// EndLocalClose: server side, the process closed the connection before the response
	// completed.
	EndLocalClose
	// EndLost: the parser lost the response's framing; it ended at the next response.
	EndLost
	// EndFlushed: Flush ended it (the connection was idle too long, or the input ended).
	EndFlushed
	// EndServerGone: server side, the process exited (killed, crashed) before the response
	// completed; the kernel closed its sockets without a close call to see.
	EndServerGone
)

var endNames = [...]string{"none", "complete", "close", "abort", "peer_close", "local_close", "lost", "flushed", "server_gone"}

func (r EndReason) String() string {
	if int(r) < len(endNames) {
		return endNames[r]
	}
	return "end?"
}

// Exchange is one request and its response on a connection, with per-token timing.
// Timestamps are the TS of the socket events (CLOCK_MONOTONIC ns); 0 means unknown.
type Exchange struct {
	Conn       uint64
	PID        uint32 // the process that read (server) or wrote (client) the request line
	TID        uint32 // its thread
	Side       Side
	Family     event.Family
	LocalPort  uint16
	RemotePort uint16

	Method string
	Path   string
	// ArrivalNS is the TS of the read (client side: the write) that brought the request line;
	// 0 for a partial exchange.
	ArrivalNS uint64
	// Partial: the exchange was in flight when its connection was first seen (the tracer
	// attached in the middle of its response), so its request, arrival and head are
	// unknown; JoinedNS is the TS of the first fragment of it that was seen.
	Partial  bool
	JoinedNS uint64
	// RequestEndNS is the TS of the fragment that completed the request body (0 if lost).
	RequestEndNS uint64
	// Stream: the request asked for a stream ("stream": true, TGI's /generate_stream), or
	// the response was an event stream.
	Stream       bool
	MaxTokens    int64
	HasMaxTokens bool

	Status int    // 0 when no response head was seen
	HeadNS uint64 // TS of the write that carried the response head
	SSE    bool   // the response was text/event-stream

	ResponseID string
	// ContentWrites is the TS of each write (client side: read) that carried at least one
	// SSE event with generated content; the first is the first token.
	ContentWrites []uint64
	ContentEvents int // content events in all
	Usage         Usage
	Done          bool // data: [DONE] was seen
	Error         bool // an error event or error body
	ErrorMessage  string
	// ContextLength: the error says the context or maximum length was exceeded.
	ContextLength bool

	// EndNS is the TS of the write that completed the response (the last chunk, or the
	// last content-length byte; the [DONE] write when the connection ended before the last
	// chunk), or of the event that ended it otherwise (the close, the failed write, EOF).
	EndNS    uint64
	End      EndReason
	Aborted  bool // the client went away before the end (End == EndAbort)
	Degraded bool // bytes that mattered were not captured or the framing broke

	req    *Request
	resp   *Response
	doneNS uint64 // the write with [DONE]
	lastNS uint64 // the last write of the response
	ended  bool
}

// SinceNS is when the exchange is known to have been open: its arrival, or for a partial
// exchange the first fragment seen of it.
func (x *Exchange) SinceNS() uint64 {
	if x.Partial {
		return x.JoinedNS
	}
	return x.ArrivalNS
}

// Responded reports whether a final response head was seen.
func (x *Exchange) Responded() bool { return x.Status != 0 }

// FirstContentNS is the TS of the first content write (0 when none).
func (x *Exchange) FirstContentNS() uint64 {
	if len(x.ContentWrites) == 0 {
		return 0
	}
	return x.ContentWrites[0]
}

// absorbRequest copies what the request's end says.
func (x *Exchange) absorbRequest(r *Request, ts uint64) {
	if !r.Lost {
		x.RequestEndNS = ts
	}
	if r.Body.HasStream {
		x.Stream = x.Stream || r.Body.Stream
	}
	if r.Body.HasMaxTokens {
		x.MaxTokens, x.HasMaxTokens = r.Body.MaxTokens, true
	}
	x.Degraded = x.Degraded || r.Degraded
}

// absorbResponse copies what the response said so far.
func (x *Exchange) absorbResponse() {
	r := x.resp
	if r == nil {
		return
	}
	x.ResponseID, x.Usage, x.Done = r.ID, r.Usage, r.Done
	x.Error, x.ErrorMessage, x.ContextLength = r.Error, r.Message, r.ContextLength
	x.Degraded = x.Degraded || r.Degraded
}

// isStreamPath reports paths whose responses are streams whatever the body says.
func isStreamPath(path string) bool {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return strings.HasSuffix(path, "/generate_stream")
}
