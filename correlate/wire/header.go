package wire

import (
	"bytes"
	"errors"
)

// Sentinel errors of the parsers.
var (
	// ErrNotHTTP: bytes where a message had to start are not an HTTP/1.x start line.
	ErrNotHTTP = errors.New("not an http/1.x message")
	// ErrMalformed: an HTTP message broke its own framing (bad content-length, bad chunk).
	ErrMalformed = errors.New("malformed http message")
)

// maxHeaders bounds the header lines of one message; more is taken as garbage.
const maxHeaders = 256

// fields are the headers of a message that matter for framing and classification.
type fields struct {
	contentLength int64 // -1 when absent
	chunked       bool
	transferOther bool // a transfer-encoding whose last coding is not chunked
	expect100     bool
	contentType   string
	encoded       bool // a content-encoding other than identity
	close         bool // connection: close
	keepAlive     bool // connection: keep-alive
	upgrade       bool // connection: upgrade
	count         int
	bad           bool // conflicting or invalid content-length
}

func (h *fields) reset() { *h = fields{contentLength: -1} }

// header records one header line. It returns false for a line that is not a header.
func (h *fields) header(line []byte) bool {
	h.count++
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return true // obsolete line folding: a continuation, nothing we read
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return false
	}
	name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
	switch {
	case bytes.EqualFold(name, []byte("content-length")):
		n, ok := parseDecimal(value)
		if !ok || (h.contentLength >= 0 && h.contentLength != n) {
			h.bad = true
			return true
		}
		h.contentLength = n
	case bytes.EqualFold(name, []byte("transfer-encoding")):
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = bytes.TrimSpace(value[i+1:])
		}
		if bytes.EqualFold(last, []byte("chunked")) {
			h.chunked, h.transferOther = true, false
		} else if len(last) > 0 {
			h.chunked, h.transferOther = false, true
		}
	case bytes.EqualFold(name, []byte("expect")):
		h.expect100 = bytes.EqualFold(value, []byte("100-continue"))
	case bytes.EqualFold(name, []byte("content-type")):
		if h.contentType == "" {
			h.contentType = string(clip(value, 128))
		}
	case bytes.EqualFold(name, []byte("content-encoding")):
		h.encoded = len(value) > 0 && !bytes.EqualFold(value, []byte("identity"))
	case bytes.EqualFold(name, []byte("connection")):
		for _, tok := range bytes.Split(value, []byte(",")) {
			tok = bytes.TrimSpace(tok)
			switch {
			case bytes.EqualFold(tok, []byte("close")):
				h.close = true
			case bytes.EqualFold(tok, []byte("keep-alive")):
				h.keepAlive = true
			case bytes.EqualFold(tok, []byte("upgrade")):
				h.upgrade = true
			}
		}
	}
	return true
}

// isSSE reports whether the content type is text/event-stream.
func (h *fields) isSSE() bool {
	ct := h.contentType
	if i := indexByteString(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return equalFoldTrim(ct, "text/event-stream")
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func equalFoldTrim(s, want string) bool {
	return bytes.EqualFold(bytes.TrimSpace([]byte(s)), []byte(want))
}

// parseDecimal parses a non-negative decimal of at most 18 digits.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is an RFC 9110 token (a header name or a method).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7F || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return len(b) > 0
}
