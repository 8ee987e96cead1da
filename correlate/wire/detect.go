package wire

import "bytes"

// Proto is what the first bytes of a connection say it carries.
type Proto uint8

const (
	// ProtoUnknown: the bytes seen so far are a prefix of an HTTP/1.x start line; more are needed.
	ProtoUnknown Proto = iota
	ProtoHTTPRequest
	ProtoHTTPResponse
	ProtoTLS    // a TLS record (handshake 0x16 0x03)
	ProtoHTTP2  // the HTTP/2 client preface "PRI * HTTP/2.0" (h2c, gRPC)
	ProtoZMQ    // a ZMTP greeting: 0xFF, 8 bytes, 0x7F
	ProtoBinary // anything else: NCCL, a stream joined mid-message, garbage
)

var protoNames = [...]string{"unknown", "http-request", "http-response", "tls", "http2", "zmq", "binary"}

func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return "proto?"
}

// IsHTTP reports whether p is an HTTP/1.x request or response.
func (p Proto) IsHTTP() bool { return p == ProtoHTTPRequest || p == ProtoHTTPResponse }

// methods are the request methods recognised at the start of a message, with their space.
var methods = [...]string{
	"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
}

const (
	h2Preface    = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	h2Decisive   = 6 // "PRI * " is enough
	statusPrefix = "HTTP/1."
	zmqGreetLen  = 10
)

// DetectNeed is the most bytes Detect needs to decide.
const DetectNeed = 16

// Detect classifies the first bytes of a connection's stream. It returns ProtoUnknown only
// while b is a proper prefix of an HTTP/1.x request line or status line (or of the HTTP/2
// preface), so a caller that holds at most DetectNeed bytes always gets a decision.
func Detect(b []byte) Proto {
	if len(b) == 0 {
		return ProtoUnknown
	}
	switch c := b[0]; {
	case c == 0x16:
		if len(b) == 1 || b[1] == 0x03 {
			return ProtoTLS
		}
		return ProtoBinary
	case c == 0xFF:
		if len(b) < zmqGreetLen || b[zmqGreetLen-1] == 0x7F {
			return ProtoZMQ
		}
		return ProtoBinary
	case c < 'A' || c > 'Z':
		return ProtoBinary
	}
	if prefixEither(b, statusPrefix) {
		if len(b) < len(statusPrefix) {
			return ProtoUnknown
		}
		return ProtoHTTPResponse
	}
	if prefixEither(b, h2Preface) {
		if len(b) < h2Decisive && maybeMethod(b) {
			return ProtoUnknown // "P", "PR"...: POST, PUT or PRI
		}
		if len(b) >= h2Decisive {
			return ProtoHTTP2
		}
	}
	for _, m := range methods {
		if prefixEither(b, m) {
			if len(b) < len(m) {
				return ProtoUnknown
			}
			return ProtoHTTPRequest
		}
	}
	return ProtoBinary
}

// maybeMethod reports whether b is a prefix of some method (or of the HTTP/2 preface).
func maybeMethod(b []byte) bool {
	for _, m := range methods {
		if prefixEither(b, m) {
			return true
		}
	}
	return prefixEither(b, h2Preface)
}

// prefixEither reports whether one of b and s is a prefix of the other.
func prefixEither(b []byte, s string) bool {
	if len(b) >= len(s) {
		return string(b[:len(s)]) == s
	}
	return string(b) == s[:len(b)]
}

// looksLikeRequestStart reports whether a fragment that begins at an unknown position
// most likely begins a request: a full method and its space.
func looksLikeRequestStart(b []byte) bool {
	return Detect(clip(b, DetectNeed)) == ProtoHTTPRequest
}

// looksLikeResponseStart reports whether b begins with "HTTP/1.x NNN".
func looksLikeResponseStart(b []byte) bool {
	if len(b) < 12 || !bytes.HasPrefix(b, []byte(statusPrefix)) || b[8] != ' ' {
		return false
	}
	return isDigit(b[9]) && isDigit(b[10]) && isDigit(b[11])
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
