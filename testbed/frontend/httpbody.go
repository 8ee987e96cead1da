package frontend

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// readBody reads a Content-Length or chunked body.
func (r *reader) readBody(req *request) error {
	te := strings.ToLower(req.header("transfer-encoding"))
	cl := req.header("content-length")
	switch {
	case te != "" && te != "identity":
		if te != "chunked" {
			return &httpError{status: 501, msg: fmt.Sprintf("unsupported transfer-encoding %q", truncate(te, 40))}
		}
		if cl != "" {
			return badRequest("both transfer-encoding and content-length")
		}
		if err := r.expectContinue(req, 1); err != nil {
			return err
		}
		return r.readChunked(req)
	case cl != "":
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return badRequest("invalid content-length %q", truncate(cl, 20))
		}
		if n > maxBodyBytes {
			return &httpError{status: 413, msg: "request body too large"}
		}
		if err := r.expectContinue(req, int(n)); err != nil {
			return err
		}
		for len(r.buf) < int(n) {
			if err := r.fill(); err != nil {
				return err
			}
		}
		req.body = bytes.Clone(r.buf[:n])
		r.consume(int(n))
	}
	return nil
}

// expectContinue sends "100 Continue" when the client waits for it and the body it
// announced is not already here.
func (r *reader) expectContinue(req *request, need int) error {
	if !strings.EqualFold(req.header("expect"), "100-continue") || req.proto != "HTTP/1.1" {
		return nil
	}
	if need == 0 || len(r.buf) >= need || r.beforeBody == nil {
		return nil
	}
	return r.beforeBody()
}

// readChunked decodes a chunked request body (extensions and trailers are skipped).
func (r *reader) readChunked(req *request) error {
	var body []byte
	for {
		line, err := r.readLine()
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return badRequest("invalid chunk size %q", truncate(line, 20))
		}
		if n > maxBodyBytes-int64(len(body)) {
			return &httpError{status: 413, msg: "request body too large"}
		}
		if n == 0 {
			for { // trailers, up to the blank line
				l, err := r.readLine()
				if err != nil {
					return err
				}
				if l == "" {
					req.body = body
					return nil
				}
			}
		}
		for len(r.buf) < int(n)+2 {
			if err := r.fill(); err != nil {
				return err
			}
		}
		if r.buf[n] != '\r' || r.buf[n+1] != '\n' {
			return badRequest("chunk not followed by CRLF")
		}
		body = append(body, r.buf[:n]...)
		r.consume(int(n) + 2)
	}
}

// readLine returns one CRLF- (or LF-) terminated line without its terminator.
func (r *reader) readLine() (string, error) {
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			l := strings.TrimSuffix(string(r.buf[:i]), "\r")
			r.consume(i + 1)
			return l, nil
		}
		if len(r.buf) > maxHeaderBytes {
			return "", badRequest("line too long")
		}
		if err := r.fill(); err != nil {
			return "", err
		}
	}
}
