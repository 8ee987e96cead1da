package wire

import (
	"bytes"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// Hooks are called as exchanges move, so a caller can keep live gauges (waiting: arrived
// without a first content write; running: first content, not ended). Any may be nil.
// The exchange passed is live until Ended; do not keep it before then.
type Hooks struct {
	Arrived      func(*Exchange) // the request line was read
	FirstContent func(*Exchange) // the first write with generated content
	// Content is every write with generated content: at ts, carrying n content events.
	Content func(x *Exchange, ts uint64, n int)
	Ended   func(*Exchange) // the exchange is final (also returned by Feed or Flush)
}

// Config tunes a Tracker. The zero value takes the defaults.
type Config struct {
	// IdleNS: Flush ends connections with no event for this long (default 5 minutes).
	IdleNS uint64
	// MaxPending bounds the requests in flight on one connection (default 64); a client
	// pipelining more has its connection dropped as lost.
	MaxPending int
	Hooks      Hooks
}

// Stats counts what the Tracker saw.
type Stats struct {
	HTTPConns   uint64                  // connections recognised as HTTP/1.x
	Ignored     [ProtoBinary + 1]uint64 // connections ignored, by what they carried
	Joined      uint64                  // connections first seen in the middle of a message
	Partial     uint64                  // exchanges joined in the middle of their response
	Exchanges   uint64                  // exchanges ended
	Aborted     uint64                  // of which aborted
	Degraded    uint64                  // of which degraded
	Orphans     uint64                  // responses to no request seen
	ParseErrors uint64                  // ErrNotHTTP and ErrMalformed in open connections
}

// Tracker follows socket events of any number of connections, in time order, and turns
// them into Exchanges. It is not safe for concurrent use.
type Tracker struct {
	cfg   Config
	conns map[uint64]*conn
	stats Stats
	out   []*Exchange
}

// NewTracker returns a Tracker.
func NewTracker(cfg Config) *Tracker {
	if cfg.IdleNS == 0 {
		cfg.IdleNS = 300e9
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = 64
	}
	return &Tracker{cfg: cfg, conns: make(map[uint64]*conn)}
}

// Feed consumes one socket event and returns the exchanges it ended. The slice is reused
// by the next call; the exchanges are the caller's.
func (t *Tracker) Feed(e *event.Sock) []*Exchange {
	t.out = t.out[:0]
	c := t.conns[e.Conn]
	switch e.Op {
	case event.OpAccept, event.OpConnect:
		if c != nil { // the socket object was reused: the old connection is over
			t.endAll(c, c.last, EndFlushed)
		}
		c = t.newConn(e)
		c.hint = SideServer
		if e.Op == event.OpConnect {
			c.hint = SideClient
		}
	case event.OpClose:
		if c != nil {
			t.closed(c, e)
			delete(t.conns, e.Conn)
		}
	case event.OpRead, event.OpWrite:
		if c == nil {
			c = t.newConn(e)
		}
		c.last, c.pid = e.TS, e.PID
		if c.st != cIgnored {
			t.data(c, e)
		}
	}
	return t.out
}

// Flush ends the connections with no event since now-IdleNS and returns their exchanges
// (the slice is reused by the next call).
func (t *Tracker) Flush(now uint64) []*Exchange {
	t.out = t.out[:0]
	for k, c := range t.conns {
		if now > c.last && now-c.last > t.cfg.IdleNS {
			t.endAll(c, c.last, EndFlushed)
			delete(t.conns, k)
		}
	}
	return t.out
}

// FlushAll ends every connection (at the end of a replay) and returns the exchanges.
func (t *Tracker) FlushAll() []*Exchange {
	t.out = t.out[:0]
	for k, c := range t.conns {
		t.endAll(c, c.last, EndFlushed)
		delete(t.conns, k)
	}
	return t.out
}

// ProcessGone ends, at ts, the exchanges in flight on the connections whose latest
// fragment came from pid, which has exited: the kernel closed its sockets and no close
// call will be seen. Server-side exchanges end EndServerGone, client-side ones
// EndAbort. It returns the exchanges it ended (the slice is reused by the next call).
func (t *Tracker) ProcessGone(pid uint32, ts uint64) []*Exchange {
	t.out = t.out[:0]
	for k, c := range t.conns {
		if c.pid != pid {
			continue
		}
		if c.st == cHTTP {
			reason := EndServerGone
			if c.side == SideClient {
				reason = EndAbort
			}
			t.endAll(c, ts, reason)
		}
		t.retire(c)
		delete(t.conns, k)
	}
	return t.out
}

// Stats returns the counters so far.
func (t *Tracker) Stats() Stats { return t.stats }

// Conns is the number of connections holding state.
func (t *Tracker) Conns() int { return len(t.conns) }

func (t *Tracker) newConn(e *event.Sock) *conn {
	c := &conn{id: e.Conn, fam: e.Family, lport: e.LocalPort, rport: e.RemotePort, last: e.TS, pid: e.PID}
	t.conns[e.Conn] = c
	return c
}

// data handles a read or a write of a connection that is not ignored.
func (t *Tracker) data(c *conn, e *event.Sock) {
	if c.fam == 0 {
		c.fam, c.lport, c.rport = e.Family, e.LocalPort, e.RemotePort
	}
	switch {
	case e.Ret < 0:
		if isAbortErrno(-e.Ret) {
			t.gone(c, e.TS, EndAbort)
		}
		return
	case e.Ret == 0:
		if e.Op == event.OpRead {
			t.peerEOF(c, e.TS)
		}
		return
	}
	fr := frag{ts: e.TS, pid: e.PID, tid: e.TID, op: e.Op, f: FromSock(e)}
	if c.st != cHTTP {
		t.detect(c, fr)
		return
	}
	t.route(c, fr)
}

// isAbortErrno: the connection died under the call (EPIPE, ECONNABORTED, ECONNRESET,
// ETIMEDOUT).
func isAbortErrno(errno int64) bool {
	return errno == 32 || errno == 103 || errno == 104 || errno == 110
}

// detect decides what a connection carries from its first bytes.
func (t *Tracker) detect(c *conn, fr frag) {
	var buf [DetectNeed]byte
	n := 0
	if len(c.held) > 0 && c.held[0].op != fr.op {
		c.held = c.held[:0] // the other direction spoke: decide on this one alone
	}
	for _, h := range c.held {
		n += copy(buf[n:], h.f.Head)
	}
	n += copy(buf[n:], fr.f.Head)
	p := Detect(buf[:n])
	if p == ProtoHTTPResponse && c.hint == SideUnknown && !looksLikeResponseStart(buf[:n]) {
		// Met mid-message, "HTTP/1." alone is too weak: it may be a request line's end.
		p = ProtoBinary
	}
	if p == ProtoUnknown {
		if fr.f.Gap() == 0 && len(fr.f.Tail) == 0 && n < DetectNeed && len(c.held) < 4 {
			fr.f.Head = append([]byte(nil), fr.f.Head...)
			c.held = append(c.held, fr)
			return
		}
		p = ProtoBinary
	}
	switch p {
	case ProtoHTTPRequest, ProtoHTTPResponse:
		c.st = cHTTP
		c.side = SideServer
		if (p == ProtoHTTPRequest) == (fr.op == event.OpWrite) {
			c.side = SideClient
		}
		c.req, c.resp = &RequestParser{}, &ResponseParser{}
		t.stats.HTTPConns++
		held := c.held
		c.held = nil
		for _, h := range held {
			t.route(c, h)
			if c.st != cHTTP {
				return
			}
		}
		t.route(c, fr)
	case ProtoBinary:
		c.held = nil
		if c.hint != SideUnknown {
			t.ignore(c, p)
			return
		}
		// Opened before the tracer attached and met mid-message: a response in flight is
		// joined where it can be followed; otherwise the connection waits for the next
		// message boundary, however long that takes (a keep-alive client's next request).
		if c.st == cNew {
			c.st = cProbing
			t.stats.Joined++
		}
		c.probes++
		if fr.op == event.OpWrite {
			if chunked, ok := sseBodyStart(fr.f.Head); ok {
				t.joinResponse(c, fr, chunked)
			}
		}
	default:
		t.ignore(c, p)
	}
}

// sseBodyStart reports whether a write met mid-connection starts a piece of an event
// stream: a chunk whose data starts with an SSE field, or (close-delimited) the field
// itself.
func sseBodyStart(b []byte) (chunked, ok bool) {
	if startsChunk(b) {
		i := bytes.Index(b, []byte("\r\n"))
		rest := b[i+2:]
		return true, len(rest) > 0 && startsSSEField(rest)
	}
	return false, startsSSEField(b) && !bytes.HasPrefix(b, []byte(":")) // ":" alone is too weak
}

// joinResponse starts following the server side of c in the middle of a streamed
// response: the exchange is partial (its request was before the attach), and the next
// request on the connection is parsed from its request line.
func (t *Tracker) joinResponse(c *conn, fr frag, chunked bool) {
	c.st, c.side = cHTTP, SideServer
	c.req, c.resp = &RequestParser{}, &ResponseParser{}
	c.req.Resync()
	t.stats.HTTPConns++
	x := t.partial(c, fr)
	x.Stream, x.SSE = true, true
	x.resp = c.resp.Join(chunked)
	c.cur = x
	t.onResponse(c, fr)
}

// partial opens an exchange whose request came before the tracer attached, on the
// server side of c, at fr: the first of it seen.
func (t *Tracker) partial(c *conn, fr frag) *Exchange {
	t.stats.Partial++
	x := &Exchange{
		Conn: c.id, PID: fr.pid, TID: fr.tid, Side: SideServer,
		Family: c.fam, LocalPort: c.lport, RemotePort: c.rport,
		Partial: true, JoinedNS: fr.ts, lastNS: fr.ts,
	}
	c.pending = append(c.pending, x)
	if h := t.cfg.Hooks.Arrived; h != nil {
		h(x)
	}
	return x
}

// ignore marks c as not carrying HTTP: what it carries costs a map lookup from now on.
func (t *Tracker) ignore(c *conn, p Proto) {
	if c.st != cIgnored {
		t.stats.Ignored[p]++
	}
	t.retire(c)
	c.proto = p
}

// retire drops c's parsing state: nothing more on it is of interest.
func (t *Tracker) retire(c *conn) {
	c.st = cIgnored
	c.held = nil
	if c.req != nil {
		c.req.release()
		c.resp.release()
		c.req, c.resp = nil, nil
	}
}

// binaryAfter is how many fragments of a connection met mid-message show no message
// start before EachConn calls it binary rather than unsynced (it keeps waiting).
const binaryAfter = 32

// Connection states as EachConn names them.
const (
	ConnHTTP     = "http"     // parsed as HTTP/1.x
	ConnUnsynced = "unsynced" // met mid-message, waiting for a message boundary
)

// EachConn calls fn for every open connection the tracker holds, with the process of its
// latest fragment and its state: ConnHTTP, ConnUnsynced, or what an ignored connection
// carries (Proto's names: "tls", "http2", "zmq", "binary"). Connections that are over but
// not yet closed are not reported.
func (t *Tracker) EachConn(fn func(pid uint32, state string)) {
	for _, c := range t.conns {
		switch {
		case c.st == cHTTP:
			fn(c.pid, ConnHTTP)
		case c.st == cProbing && c.probes < binaryAfter:
			fn(c.pid, ConnUnsynced)
		case c.st == cProbing:
			fn(c.pid, ProtoBinary.String()) // still waiting, but nothing in it looks like HTTP
		case c.st == cIgnored && c.proto != ProtoUnknown:
			fn(c.pid, c.proto.String())
		}
	}
}
