package wire

import "github.com/inferprobe/inferprobe/tracer/event"

type connState uint8

const (
	cNew     connState = iota // nothing seen yet
	cProbing                  // joined mid-stream: waiting, however long, for a fragment that starts a message
	cHTTP                     // HTTP/1.x: parsers run
	cIgnored                  // not HTTP, or over: fragments cost a map lookup
)

// conn is the state of one connection.
type conn struct {
	id     uint64
	st     connState
	side   Side
	hint   Side // from accept (server) or connect (client)
	fam    event.Family
	lport  uint16
	rport  uint16
	last   uint64
	pid    uint32 // the process of the latest fragment
	proto  Proto  // what an ignored connection carried
	probes int    // fragments seen while waiting for a message boundary
	held   []frag // first fragments too short to decide on
	// lineStart is the fragment that brought the first byte of a request line that is
	// not complete yet (its Fragment part is not kept).
	lineStart frag

	req     *RequestParser
	resp    *ResponseParser
	pending []*Exchange // requests in order of arrival, without their response's end
	cur     *Exchange   // the exchange the response in progress answers (nil: orphan)
}

// frag is one fragment with what the tracker needs of its event.
type frag struct {
	ts       uint64
	pid, tid uint32
	op       event.SockOp
	f        Fragment
}
