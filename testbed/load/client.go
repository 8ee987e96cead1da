package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// pool keeps idle keep-alive connections to the one target.
type pool struct {
	addr string
	mu   sync.Mutex
	idle []*cconn
}

// cconn is a client connection with a read buffer that knows when its last read
// returned.
type cconn struct {
	c      net.Conn
	buf    []byte
	lastNS uint64 // right after the last read(2) that returned data
	got    int    // bytes read since the last request was written
	chunk  []byte
}

func (p *pool) get() (cc *cconn, reused bool, err error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		cc = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return cc, true, nil
	}
	p.mu.Unlock()
	c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		return nil, false, fmt.Errorf("dial %s: %w", p.addr, err)
	}
	return &cconn{c: c, chunk: make([]byte, 32<<10)}, false, nil
}

func (p *pool) put(cc *cconn) {
	p.mu.Lock()
	p.idle = append(p.idle, cc)
	p.mu.Unlock()
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.idle {
		cc.c.Close()
	}
	p.idle = nil
}

// errStale is a reused connection the server had closed before our request.
var errStale = errors.New("server closed the idle connection")

func (cc *cconn) fill() error {
	n, err := cc.c.Read(cc.chunk)
	if n > 0 {
		cc.lastNS = truth.Now()
		cc.buf = append(cc.buf, cc.chunk[:n]...)
		cc.got += n
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if cc.got == 0 && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
		return errStale
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// line returns the next CRLF-terminated line.
func (cc *cconn) line() (string, error) {
	for {
		if i := bytes.IndexByte(cc.buf, '\n'); i >= 0 {
			l := strings.TrimSuffix(string(cc.buf[:i]), "\r")
			cc.buf = cc.buf[i+1:]
			return l, nil
		}
		if len(cc.buf) > 1<<16 {
			return "", errors.New("response line too long")
		}
		if err := cc.fill(); err != nil {
			return "", err
		}
	}
}

// take returns the next n bytes.
func (cc *cconn) take(n int) ([]byte, error) {
	for len(cc.buf) < n {
		if err := cc.fill(); err != nil {
			return nil, err
		}
	}
	b := cc.buf[:n:n]
	cc.buf = cc.buf[n:]
	return b, nil
}

// head is a response's status and the headers the client acts on.
type head struct {
	status  int
	length  int // -1: none
	chunked bool
	close   bool
	sse     bool
}

func (cc *cconn) readHead() (head, error) {
	h := head{length: -1}
	for {
		l, err := cc.line()
		if err != nil {
			return h, err
		}
		proto, rest, _ := strings.Cut(l, " ")
		code, _, _ := strings.Cut(rest, " ")
		if !strings.HasPrefix(proto, "HTTP/1.") {
			return h, fmt.Errorf("bad status line %q", l)
		}
		if h.status, err = strconv.Atoi(code); err != nil {
			return h, fmt.Errorf("bad status line %q", l)
		}
		h.close = proto == "HTTP/1.0"
		for {
			l, err := cc.line()
			if err != nil {
				return h, err
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			value = strings.TrimSpace(value)
			switch strings.ToLower(name) {
			case "content-length":
				if h.length, err = strconv.Atoi(value); err != nil || h.length < 0 {
					return h, fmt.Errorf("bad content-length %q", value)
				}
			case "transfer-encoding":
				h.chunked = strings.EqualFold(value, "chunked")
			case "connection":
				h.close = strings.EqualFold(value, "close")
			case "content-type":
				h.sse = strings.HasPrefix(value, "text/event-stream")
			}
		}
		if h.status >= 200 { // skip interim responses
			return h, nil
		}
	}
}

// body reads the whole body; onData sees each piece as it is read, with cc.lastNS the
// time of the read that brought its last byte. onData returning false stops reading.
func (cc *cconn) body(h head, onData func([]byte) bool) error {
	if !h.chunked {
		if h.length < 0 {
			return errors.New("response without content-length or chunked encoding")
		}
		b, err := cc.take(h.length)
		if err == nil {
			onData(b)
		}
		return err
	}
	for {
		l, err := cc.line()
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(l, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", l)
		}
		if n == 0 {
			for { // trailers
				l, err := cc.line()
				if err != nil {
					return err
				}
				if l == "" {
					return nil
				}
			}
		}
		b, err := cc.take(int(n) + 2)
		if err != nil {
			return err
		}
		if !onData(b[:n]) {
			return errStopped
		}
	}
}

var errStopped = errors.New("stopped by the client")
