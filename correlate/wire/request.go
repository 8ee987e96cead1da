package wire

import "bytes"

// Request is one HTTP/1.x request as far as it has been parsed.
type Request struct {
	Method        string
	Path          string
	Minor         int   // HTTP/1.Minor
	ContentLength int64 // -1 when absent
	Chunked       bool
	Expect100     bool // Expect: 100-continue
	ContentType   string
	Close         bool // Connection: close
	Body          RequestBody
	BodyLen       int64 // body bytes on the wire (chunk framing included)
	Degraded      bool  // bytes that mattered were not captured, or the framing broke
	Lost          bool  // its end was not seen: the parser lost the framing
	// StartFragment numbers the fragment (counting Feed calls from 1) that brought the
	// request line's first byte: a request line split over reads arrived with the first.
	StartFragment uint64
}

// ReqEventKind is what a RequestParser saw happen.
type ReqEventKind uint8

const (
	// ReqBegin: a request line was parsed (Req has Method, Path, Minor).
	ReqBegin ReqEventKind = iota + 1
	// ReqEnd: the request's body ended (or it was lost: Req.Lost); Req is final.
	ReqEnd
)

// ReqEvent is one thing the parser saw.
type ReqEvent struct {
	Kind ReqEventKind
	Req  *Request
}

type reqState uint8

const (
	rqStart reqState = iota
	rqHeaders
	rqBody
	rqLost
)

// RequestParser parses the requests of one direction of a connection, fragment by
// fragment: keep-alive and pipelined requests, content-length and chunked bodies.
// The zero value is ready.
type RequestParser struct {
	st      reqState
	line    lineBuf
	h       fields
	cur     *Request
	fr      framer
	col     collector
	started bool   // a request line was parsed at some point
	seq     uint64 // Feed calls so far
	lineSeq uint64 // the Feed call that brought the pending start line's first byte
	err     error
	evs     []ReqEvent
}

// Feed parses one fragment. It returns what happened, in order (valid until the next
// call), and ErrNotHTTP when bytes that had to start a request did not (the parser then
// waits for a fragment that starts with a request line) or ErrMalformed when a request
// broke its framing.
func (p *RequestParser) Feed(f Fragment) ([]ReqEvent, error) {
	p.evs, p.err = p.evs[:0], nil
	p.seq++
	if !p.fragmentStart(f) {
		return p.evs, p.err
	}
	feedFragment(f, p)
	return p.evs, p.err
}

// Resync makes the parser wait for a fragment that starts with a request line: the
// connection was met in the middle of a message.
func (p *RequestParser) Resync() {
	p.st = rqLost
	p.line.reset()
}

// Started reports whether the parser ever parsed a request line.
func (p *RequestParser) Started() bool { return p.started }

// Fragments is the number of Feed calls so far.
func (p *RequestParser) Fragments() uint64 { return p.seq }

// PendingStart reports a request line begun but not complete, and the fragment that
// brought its first byte.
func (p *RequestParser) PendingStart() (uint64, bool) {
	if p.st != rqStart || len(p.line.partial()) == 0 {
		return 0, false
	}
	return p.lineSeq, true
}

// fragmentStart offers a lost parser the fragment's head to resume on. It returns false
// when the fragment is to be dropped.
func (p *RequestParser) fragmentStart(f Fragment) bool {
	switch {
	case p.st == rqLost:
		if !looksLikeRequestStart(f.Head) {
			return false
		}
		p.st = rqStart
		p.line.reset()
	case p.st == rqBody && p.fr.lost:
		switch {
		case p.fr.resync(f.Head):
		case looksLikeRequestStart(f.Head):
			p.lose(nil)
			p.st = rqStart
		case p.fr.lostEnd(f):
			p.finish()
			return false
		default:
			return false
		}
	}
	return true
}

func (p *RequestParser) write(b []byte) {
	for len(b) > 0 {
		switch p.st {
		case rqLost:
			return
		case rqStart:
			if len(p.line.partial()) == 0 && b[0] != '\r' && b[0] != '\n' {
				p.lineSeq = p.seq
			}
			n, line, ok := p.line.next(b)
			b = b[n:]
			if !ok {
				part := p.line.partial()
				if len(part) > 0 && part[0] == '\r' {
					continue
				}
				if d := Detect(clip(part, DetectNeed)); d != ProtoUnknown && d != ProtoHTTPRequest {
					p.lose(ErrNotHTTP)
				}
				continue
			}
			if len(line) == 0 {
				continue // empty lines before a request line are allowed
			}
			if !p.begin(line) {
				p.lose(ErrNotHTTP)
			}
		case rqHeaders:
			n, line, ok := p.line.next(b)
			b = b[n:]
			switch {
			case !ok:
			case len(line) == 0:
				p.headDone()
			case !p.h.header(line) || p.h.count > maxHeaders:
				p.lose(ErrMalformed)
			}
		case rqBody:
			n, err := p.fr.write(b, &p.col)
			if err != nil {
				p.lose(err)
				return
			}
			b = b[n:]
			if p.fr.done {
				p.finish()
			}
		}
	}
}

func (p *RequestParser) skip(n int64) {
	switch p.st {
	case rqBody:
		left := p.fr.skip(n, &p.col)
		if p.fr.lost {
			p.cur.Degraded = true
		}
		if p.fr.done {
			p.finish()
			if left > 0 {
				p.lose(nil) // the next request began in the gap
			}
		}
	case rqStart, rqHeaders:
		p.lose(nil)
	}
}

// begin parses a request line: METHOD SP target SP HTTP/1.x.
func (p *RequestParser) begin(line []byte) bool {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || Detect(clip(line, DetectNeed)) != ProtoHTTPRequest {
		return false
	}
	rest := line[sp1+1:]
	sp2 := bytes.LastIndexByte(rest, ' ')
	if sp2 <= 0 {
		return false
	}
	target, version := rest[:sp2], rest[sp2+1:]
	if len(version) != 8 || string(version[:7]) != statusPrefix || !isDigit(version[7]) ||
		bytes.IndexByte(target, ' ') >= 0 {
		return false
	}
	p.cur = &Request{
		Method:        string(line[:sp1]),
		Path:          string(clip(target, 512)),
		Minor:         int(version[7] - '0'),
		ContentLength: -1,
		Degraded:      p.line.truncated(),
		StartFragment: p.lineSeq,
	}
	p.started = true
	p.h.reset()
	p.col.reset()
	p.st = rqHeaders
	p.evs = append(p.evs, ReqEvent{Kind: ReqBegin, Req: p.cur})
	return true
}

func (p *RequestParser) headDone() {
	r, h := p.cur, &p.h
	r.ContentLength, r.Chunked, r.Expect100 = h.contentLength, h.chunked, h.expect100
	r.ContentType, r.Close = h.contentType, h.close
	if h.bad || h.transferOther {
		p.lose(ErrMalformed)
		return
	}
	switch {
	case h.chunked:
		p.fr.start(frameChunked, 0)
	case h.contentLength > 0:
		p.fr.start(frameLength, h.contentLength)
	default:
		p.fr.start(frameNone, 0)
	}
	p.col.reset()
	p.st = rqBody
	if p.fr.done {
		p.finish()
	}
}

func (p *RequestParser) finish() {
	r := p.cur
	r.BodyLen = p.fr.moved
	var tail []byte
	if !p.col.whole() {
		tail = p.col.tail
	}
	r.Body = ParseRequestBody(p.col.head, tail)
	p.evs = append(p.evs, ReqEvent{Kind: ReqEnd, Req: r})
	p.cur = nil
	p.st = rqStart
	p.fr = framer{}
	p.line.reset()
}

// lose gives up on the current request (reported as lost) and waits for a fragment that
// starts with a request line. err, when set, is returned by Feed.
func (p *RequestParser) lose(err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
	if r := p.cur; r != nil {
		r.Degraded, r.Lost = true, true
		if p.st == rqBody {
			r.BodyLen = p.fr.moved
			r.Body = ParseRequestBody(p.col.head, nil)
		}
		p.evs = append(p.evs, ReqEvent{Kind: ReqEnd, Req: r})
		p.cur = nil
	}
	p.st = rqLost
	p.fr = framer{}
	p.line.reset()
}

// release drops buffers held for the connection.
func (p *RequestParser) release() {
	p.line.release()
	p.col.release()
	p.evs = nil
}
