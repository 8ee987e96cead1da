package frontend

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// conn is one client connection: a reader goroutine parses requests (and notices the
// client going away), the serve goroutine answers them in order.
type conn struct {
	s       *Server
	c       net.Conn
	reqs    chan *request
	closed  chan struct{} // the read side ended: EOF or error
	quit    chan struct{} // serve returned
	closeNS atomic.Uint64 // when it was seen
	wmu     sync.Mutex
	buf     []byte
}

func newConn(s *Server, c net.Conn) *conn {
	return &conn{s: s, c: c, reqs: make(chan *request, 16),
		closed: make(chan struct{}), quit: make(chan struct{})}
}

func (cc *conn) serve() {
	defer func() {
		close(cc.quit)
		cc.c.Close()
	}()
	go cc.readLoop()
	for {
		var req *request
		select {
		case req = <-cc.reqs:
		default:
			select {
			case req = <-cc.reqs:
			case <-cc.s.drain:
				return // idle while the server stops
			case <-cc.closed:
				// Requests read before the close are answered (as aborted) in order.
				select {
				case req = <-cc.reqs:
				default:
					return
				}
			}
		}
		keep := cc.handle(req)
		close(req.done)
		if !keep || req.close || cc.draining() {
			return
		}
	}
}

// readLoop parses requests until the client closes or a request ends the connection,
// then keeps reading (and discarding) only to see the close.
func (cc *conn) readLoop() {
	defer func() {
		cc.closeNS.Store(truth.Now())
		close(cc.closed)
	}()
	rd := newReader(cc.c)
	var prev chan struct{}
	rd.beforeBody = func() error {
		if prev != nil { // answer 100-continue only once earlier responses are out
			select {
			case <-prev:
			case <-cc.quit:
				return io.ErrClosedPipe
			}
		}
		_, err := cc.write([]byte("HTTP/1.1 100 Continue\r\n\r\n"))
		return err
	}
	for {
		req, err := rd.next()
		if err != nil {
			return
		}
		req.done = make(chan struct{})
		prev = req.done
		select {
		case cc.reqs <- req:
		case <-cc.quit:
			return
		}
		if req.close {
			break
		}
	}
	discard := make([]byte, 4096)
	for {
		if _, err := cc.c.Read(discard); err != nil {
			return
		}
	}
}

// draining reports whether the server is stopping.
func (cc *conn) draining() bool {
	select {
	case <-cc.s.drain:
		return true
	default:
		return false
	}
}

// isClosed reports whether the client's side has ended.
func (cc *conn) isClosed() bool {
	select {
	case <-cc.closed:
		return true
	default:
		return false
	}
}

// write is one conn.Write: one write(2) unless the socket buffer is full. It returns
// the CLOCK_MONOTONIC time right after it returned.
func (cc *conn) write(b []byte) (uint64, error) {
	cc.wmu.Lock()
	_, err := cc.c.Write(b)
	now := truth.Now()
	cc.wmu.Unlock()
	return now, err
}

// respond writes a whole response (status line, headers, body) in one write.
func (cc *conn) respond(req *request, status int, ctype string, body []byte) (uint64, error) {
	b := cc.statusLine(cc.buf[:0], status, req)
	if ctype != "" {
		b = append(b, "content-type: "...)
		b = append(b, ctype...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "content-length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	cc.buf = b
	return cc.write(b)
}

// statusLine appends the status line and the headers every response carries.
func (cc *conn) statusLine(b []byte, status int, req *request) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, reason(status)...)
	b = append(b, "\r\ndate: "...)
	b = time.Now().UTC().AppendFormat(b, "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, "\r\nserver: testbed\r\n"...)
	if req.close {
		b = append(b, "connection: close\r\n"...)
	}
	return b
}

func reason(status int) string {
	switch status {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 413:
		return "Request Entity Too Large"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 503:
		return "Service Unavailable"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Status"
}
