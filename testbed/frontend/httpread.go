package frontend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Limits of what one request may carry.
const (
	maxHeaderBytes = 64 << 10
	maxBodyBytes   = 32 << 20
)

// httpError is a request the server answers with an error and then closes the
// connection, because the byte stream can no longer be trusted.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return fmt.Sprintf("http %d: %s", e.status, e.msg) }

func badRequest(format string, a ...any) error {
	return &httpError{status: 400, msg: fmt.Sprintf(format, a...)}
}

// request is one parsed HTTP/1.1 request.
type request struct {
	method, target, proto string
	headers               map[string]string // lower-case names; repeated headers joined with ", "
	body                  []byte
	arrivalNS             uint64        // after the read(2) that brought the request line's first byte
	close                 bool          // the connection closes after the response
	done                  chan struct{} // closed once the response is complete
	err                   *httpError
}

func (r *request) header(name string) string { return r.headers[name] }

// readMark is where one read(2) ended in the connection's byte stream, and when it returned.
type readMark struct {
	end uint64
	ns  uint64
}

// reader reads requests off a connection and remembers when each byte arrived: the
// request's arrival is the return of the read(2) that brought its first byte, which with
// pipelining may be a read that ended an earlier request.
type reader struct {
	src   io.Reader
	buf   []byte // unconsumed bytes
	off   uint64 // stream offset of buf[0]
	marks []readMark
	chunk []byte
	// beforeBody is called once the head of a request that asked for 100-continue is
	// parsed and its body is not yet buffered; it writes the interim response.
	beforeBody func() error
}

func newReader(src io.Reader) *reader {
	return &reader{src: src, chunk: make([]byte, 32<<10)}
}

// fill does one read(2) and appends what it returned.
func (r *reader) fill() error {
	n, err := r.src.Read(r.chunk)
	if n > 0 {
		now := truth.Now()
		r.buf = append(r.buf, r.chunk[:n]...)
		r.marks = append(r.marks, readMark{end: r.off + uint64(len(r.buf)), ns: now})
	}
	if err != nil && n == 0 {
		return err
	}
	return nil
}

// consume drops n bytes from the front of the buffer.
func (r *reader) consume(n int) {
	r.buf = r.buf[n:]
	r.off += uint64(n)
	i := 0
	for i < len(r.marks) && r.marks[i].end <= r.off {
		i++
	}
	r.marks = r.marks[i:]
	if len(r.buf) == 0 {
		r.buf = r.buf[:0:0]
	}
}

// arrivalOf is the time of the read that brought the byte at the buffer's front.
func (r *reader) arrivalOf() uint64 {
	for _, m := range r.marks {
		if m.end > r.off {
			return m.ns
		}
	}
	return 0
}

// next reads one request. io.EOF means the client closed between requests. A request
// with err set is malformed: answer it and close.
func (r *reader) next() (*request, error) {
	// Empty lines before a request line are ignored (RFC 9112 section 2.2).
	for {
		for len(r.buf) > 0 && (r.buf[0] == '\r' || r.buf[0] == '\n') {
			r.consume(1)
		}
		if len(r.buf) > 0 {
			break
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
	req := &request{arrivalNS: r.arrivalOf(), headers: map[string]string{}}
	head, err := r.readHead()
	if err != nil {
		return r.fail(req, err)
	}
	if err := parseHead(req, head); err != nil {
		return r.fail(req, err)
	}
	if err := r.readBody(req); err != nil {
		return r.fail(req, err)
	}
	return req, nil
}

// fail turns a protocol error into a request to answer, or passes an I/O error on.
func (r *reader) fail(req *request, err error) (*request, error) {
	var he *httpError
	if errors.As(err, &he) {
		req.err = he
		req.close = true
		return req, nil
	}
	if errors.Is(err, io.EOF) {
		return nil, io.ErrUnexpectedEOF
	}
	return nil, err
}

// readHead returns the request line and headers, up to and without the blank line.
func (r *reader) readHead() ([]byte, error) {
	scanned := 0
	for {
		if n, used := headEnd(r.buf, scanned); n >= 0 {
			head := bytes.Clone(r.buf[:n])
			r.consume(used)
			return head, nil
		}
		if len(r.buf) > maxHeaderBytes {
			return nil, &httpError{status: 431, msg: "request header fields too large"}
		}
		scanned = max(0, len(r.buf)-2)
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// headEnd finds the blank line that ends a head ("\r\n\r\n", or bare "\n" line ends),
// searching from index from: it returns the head's length without the blank line and
// the bytes used including it, or -1.
func headEnd(b []byte, from int) (n, used int) {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i, i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i, i + 3
		}
	}
	return -1, -1
}

// parseHead fills the request line, headers and connection semantics.
func parseHead(req *request, head []byte) error {
	lines := strings.Split(string(head), "\n")
	line := strings.TrimSuffix(lines[0], "\r")
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return badRequest("malformed request line %q", truncate(line, 80))
	}
	req.method, req.target, req.proto = parts[0], parts[1], parts[2]
	if req.proto != "HTTP/1.1" && req.proto != "HTTP/1.0" {
		return &httpError{status: 505, msg: fmt.Sprintf("unsupported protocol %q", truncate(req.proto, 20))}
	}
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			return badRequest("obsolete header line folding")
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return badRequest("malformed header line %q", truncate(l, 80))
		}
		name = strings.ToLower(name)
		value = strings.Trim(value, " \t")
		if old, dup := req.headers[name]; dup {
			if name == "content-length" && old != value {
				return badRequest("conflicting content-length headers")
			}
			if name != "content-length" {
				value = old + ", " + value
			}
		}
		req.headers[name] = value
	}
	conn := strings.ToLower(req.header("connection"))
	if req.proto == "HTTP/1.0" {
		req.close = !hasToken(conn, "keep-alive")
	} else {
		req.close = hasToken(conn, "close")
	}
	return nil
}

func hasToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.TrimSpace(t) == tok {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
