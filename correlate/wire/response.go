package wire

// Response is one HTTP/1.x response as far as it has been parsed.
type Response struct {
	Status         int
	Minor          int // HTTP/1.Minor
	ContentType    string
	ContentLength  int64 // -1 when absent
	Chunked        bool
	Close          bool // Connection: close
	CloseDelimited bool // the body runs to the connection's close
	Encoded        bool // a content-encoding: the body is not read
	SSE            bool // text/event-stream
	Upgrade        bool // 101, or a tunnel: the connection stops carrying HTTP
	Interim        int  // 1xx responses that came before this one

	ID            string // the response id (first SSE event with one, or the body)
	Usage         Usage  // the last counts seen
	Events        int    // SSE events
	ContentEvents int    // SSE events with generated content
	Done          bool   // data: [DONE]
	Error         bool   // an error event or error body
	Message       string // the error text
	ContextLength bool   // the error says the context or maximum length was exceeded

	BodyLen  int64 // body bytes on the wire (chunk framing included)
	Degraded bool  // bytes that mattered were not captured (SSE gap, lost framing)
	Lost     bool  // it ended without its framing end: the parser lost the framing
	// Joined: the parser met this response in the middle of its body (Join): its head,
	// and so its status, were never seen.
	Joined bool
}

// RespEventKind is what a ResponseParser saw happen.
type RespEventKind uint8

const (
	// RespInterim: a 1xx response (100 Continue...) was parsed whole.
	RespInterim RespEventKind = iota + 1
	// RespHead: the final response's head was parsed.
	RespHead
	// RespProgress: this fragment carried SSE events of the response (Content, Done, Error).
	RespProgress
	// RespEnd: the response ended (its framing end, or lost); Resp is final.
	RespEnd
)

// RespEvent is one thing the parser saw. Content, Done and Error are set on
// RespProgress: the content events, [DONE] and error events this fragment carried.
type RespEvent struct {
	Kind    RespEventKind
	Resp    *Response
	Content int
	Done    bool
	Error   bool
}

type respState uint8

const (
	rsStart respState = iota
	rsHeaders
	rsBody
	rsLost
	rsUpgraded
)

type bodyMode uint8

const (
	bodyDiscard bodyMode = iota
	bodyCollect
	bodySSE
)

// reqKind is what a request implies for its response's body.
type reqKind uint8

const (
	reqOther reqKind = iota
	reqHead
	reqConnect
)

// maxQueued bounds the requests a response parser is told about ahead of their responses.
const maxQueued = 64

// ResponseParser parses the responses of one direction of a connection, fragment by
// fragment: 1xx interim responses, content-length, chunked and close-delimited bodies,
// SSE streams inside them. The zero value is ready.
type ResponseParser struct {
	st      respState
	line    lineBuf
	h       fields
	cur     *Response
	interim int
	fr      framer
	mode    bodyMode
	sse     SSEParser
	col     collector
	reqs    []reqKind
	started bool
	prog    RespEvent
	err     error
	evs     []RespEvent
}

// PushRequest tells the parser a request was sent whose response is to come, so that the
// response to a HEAD has no body and one to a CONNECT opens a tunnel.
func (p *ResponseParser) PushRequest(method string) {
	k := reqOther
	switch method {
	case "HEAD":
		k = reqHead
	case "CONNECT":
		k = reqConnect
	}
	if len(p.reqs) >= maxQueued {
		p.reqs = p.reqs[:0]
	}
	p.reqs = append(p.reqs, k)
}

// Started reports whether the parser ever parsed a status line.
func (p *ResponseParser) Started() bool { return p.started }

// Current is the response being parsed (nil between responses).
func (p *ResponseParser) Current() *Response { return p.cur }

// Feed parses one fragment. It returns what happened, in order (valid until the next
// call), and ErrNotHTTP when bytes that had to start a response did not (the parser then
// waits for a fragment that starts with a status line) or ErrMalformed when a response
// broke its framing.
func (p *ResponseParser) Feed(f Fragment) ([]RespEvent, error) {
	p.evs, p.err = p.evs[:0], nil
	if !p.fragmentStart(f) {
		return p.evs, p.err
	}
	if p.st == rsBody && p.mode == bodySSE {
		p.sse.boundary()
	}
	feedFragment(f, p)
	p.flushProgress()
	return p.evs, p.err
}

// Close ends a body delimited by the connection's close and returns what that finished.
func (p *ResponseParser) Close() []RespEvent {
	p.evs = p.evs[:0]
	if p.st == rsBody && p.fr.mode == frameClose {
		p.finish()
	}
	return p.evs
}

// Join starts the parser in the middle of an event-stream body whose head it never saw:
// a connection met mid-response. chunked says the body is in chunked coding and the
// next bytes start a chunk; otherwise it runs to the connection's close (or to the next
// status line). It returns the response, which ends like any other.
func (p *ResponseParser) Join(chunked bool) *Response {
	r := &Response{ContentLength: -1, Chunked: chunked, CloseDelimited: !chunked, SSE: true, Joined: true}
	p.cur, p.started, p.st, p.mode, p.interim = r, true, rsBody, bodySSE, 0
	p.sse.reset()
	p.sse.resync = true // the first bytes may be the middle of an event
	if chunked {
		p.fr.start(frameChunked, 0)
	} else {
		p.fr.start(frameClose, 0)
	}
	return r
}

func (p *ResponseParser) fragmentStart(f Fragment) bool {
	switch {
	case p.st == rsUpgraded:
		return false
	case p.st == rsBody && p.cur != nil && p.cur.Joined && p.fr.mode == frameClose && looksLikeResponseStart(f.Head):
		// A joined body taken as close-delimited was not: a new response begins.
		p.finish()
	case p.st == rsLost:
		if !looksLikeResponseStart(f.Head) {
			return false
		}
		p.st = rsStart
		p.line.reset()
	case p.st == rsBody && p.fr.lost:
		switch {
		case p.fr.resync(f.Head):
		case looksLikeResponseStart(f.Head):
			p.cur.Lost = true
			p.finish()
		case p.fr.lostEnd(f):
			p.finish()
			return false
		default:
			return false
		}
	}
	return true
}

func (p *ResponseParser) write(b []byte) {
	for len(b) > 0 {
		switch p.st {
		case rsLost, rsUpgraded:
			return
		case rsStart:
			n, line, ok := p.line.next(b)
			b = b[n:]
			if !ok {
				part := p.line.partial()
				if len(part) > 0 && part[0] != '\r' && !prefixEither(part, statusPrefix) {
					p.lose(ErrNotHTTP)
				}
				continue
			}
			if len(line) == 0 {
				continue
			}
			if !p.status(line) {
				p.lose(ErrNotHTTP)
			}
		case rsHeaders:
			n, line, ok := p.line.next(b)
			b = b[n:]
			switch {
			case !ok:
			case len(line) == 0:
				p.headDone()
			case !p.h.header(line) || p.h.count > maxHeaders:
				p.lose(ErrMalformed)
			}
		case rsBody:
			n, err := p.fr.write(b, (*respSink)(p))
			if err != nil {
				p.cur.Degraded = true
				p.err = err
				return
			}
			b = b[n:]
			if p.fr.done {
				p.finish()
			}
		}
	}
}

func (p *ResponseParser) skip(n int64) {
	switch p.st {
	case rsBody:
		left := p.fr.skip(n, (*respSink)(p))
		if p.fr.lost {
			p.cur.Degraded = true
		}
		if p.fr.done {
			p.finish()
			if left > 0 {
				p.lose(nil)
			}
		}
	case rsStart, rsHeaders:
		p.lose(nil)
	}
}

// status parses a status line: HTTP/1.x SP 3DIGIT [SP reason].
func (p *ResponseParser) status(line []byte) bool {
	if !looksLikeResponseStart(line) || !isDigit(line[7]) || (len(line) > 12 && line[12] != ' ') {
		return false
	}
	p.cur = &Response{
		Status:        int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0'),
		Minor:         int(line[7] - '0'),
		ContentLength: -1,
		Interim:       p.interim,
	}
	p.started = true
	p.h.reset()
	p.st = rsHeaders
	return true
}

func (p *ResponseParser) headDone() {
	r, h := p.cur, &p.h
	if r.Status >= 100 && r.Status < 200 && r.Status != 101 {
		p.interim++
		p.evs = append(p.evs, RespEvent{Kind: RespInterim, Resp: r})
		p.cur, p.st = nil, rsStart
		return
	}
	r.ContentType, r.ContentLength, r.Chunked = h.contentType, h.contentLength, h.chunked
	r.Close, r.Encoded = h.close, h.encoded
	kind := reqOther
	if len(p.reqs) > 0 {
		kind = p.reqs[0]
		p.reqs = append(p.reqs[:0], p.reqs[1:]...)
	}
	p.st = rsBody
	switch {
	case r.Status == 101 || (kind == reqConnect && r.Status/100 == 2):
		r.Upgrade = true
		p.evs = append(p.evs, RespEvent{Kind: RespHead, Resp: r}, RespEvent{Kind: RespEnd, Resp: r})
		p.cur, p.st = nil, rsUpgraded
		return
	case kind == reqHead || r.Status == 204 || r.Status == 304:
		p.fr.start(frameNone, 0)
	case h.bad:
		r.Degraded = true
		p.evs = append(p.evs, RespEvent{Kind: RespHead, Resp: r})
		p.lose(ErrMalformed)
		return
	case h.chunked:
		p.fr.start(frameChunked, 0)
	case h.contentLength >= 0 && !h.transferOther:
		p.fr.start(frameLength, h.contentLength)
	default:
		r.CloseDelimited = true
		p.fr.start(frameClose, 0)
	}
	r.SSE = h.isSSE()
	switch {
	case r.Encoded:
		p.mode = bodyDiscard
	case r.SSE:
		p.mode = bodySSE
		p.sse.reset()
	default:
		p.mode = bodyCollect
		p.col.reset()
	}
	p.evs = append(p.evs, RespEvent{Kind: RespHead, Resp: r})
	if p.fr.done {
		p.finish()
	}
}
