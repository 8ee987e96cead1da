package wire

import (
	"bytes"
	"encoding/json"
)

// The JSON here is read by a small walker rather than encoding/json because captured
// bodies are often cut short (only the first bytes of a syscall are captured, and lines
// are capped): the walker reports every value it could read before the cut, and allocates
// nothing.

type jkind uint8

const (
	jString  jkind = iota + 1
	jPartial       // a string cut off by the end of the input (raw holds what was there)
	jNumber
	jTrue
	jFalse
	jNull
	jObject // an object begins (raw is nil)
	jArray  // an array begins (raw is nil)
)

// maxJSONDepth bounds nesting; deeper input ends the walk as if truncated.
const maxJSONDepth = 24

// jpath is where a value sits: object keys, and nil for array elements.
type jpath struct {
	keys [maxJSONDepth][]byte
	n    int
}

// is reports whether the path is exactly keys, "[]" standing for any array element.
func (p *jpath) is(keys ...string) bool {
	if p.n != len(keys) {
		return false
	}
	for i, k := range keys {
		if k == "[]" {
			if p.keys[i] != nil {
				return false
			}
		} else if p.keys[i] == nil || string(p.keys[i]) != k {
			return false
		}
	}
	return true
}

// key is the i-th key of the path ("" for array elements and beyond the path).
func (p *jpath) key(i int) string {
	if i >= p.n || p.keys[i] == nil {
		return ""
	}
	return string(p.keys[i])
}

// jvisitor receives every value the walker reads, in document order.
type jvisitor interface {
	value(p *jpath, k jkind, raw []byte)
}

type jwalker struct {
	d    []byte
	i    int
	path jpath
	v    jvisitor
}

// walkJSON walks the JSON value at the start of d (after white space). It returns true
// when the value was read whole, false when the input ended early or was not JSON.
func walkJSON(d []byte, v jvisitor) bool {
	var w jwalker
	return w.walk(d, v)
}

// walk is walkJSON with a walker the caller keeps, so that nothing is allocated.
func (w *jwalker) walk(d []byte, v jvisitor) bool {
	w.d, w.i, w.path.n, w.v = d, 0, 0, v
	ok := w.value()
	w.d, w.v = nil, nil
	return ok
}

func (w *jwalker) ws() {
	for w.i < len(w.d) {
		switch w.d[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

func (w *jwalker) value() bool {
	w.ws()
	if w.i >= len(w.d) {
		return false
	}
	switch c := w.d[w.i]; {
	case c == '{':
		return w.object()
	case c == '[':
		return w.array()
	case c == '"':
		s, ok := w.str()
		if !ok {
			w.v.value(&w.path, jPartial, s)
			return false
		}
		w.v.value(&w.path, jString, s)
		return true
	case c == 't':
		return w.lit("true", jTrue)
	case c == 'f':
		return w.lit("false", jFalse)
	case c == 'n':
		return w.lit("null", jNull)
	case c == '-' || isDigit(c):
		start := w.i
		for w.i < len(w.d) && isNumByte(w.d[w.i]) {
			w.i++
		}
		if w.i == len(w.d) {
			return false // the number may go on
		}
		w.v.value(&w.path, jNumber, w.d[start:w.i])
		return true
	}
	return false
}

func (w *jwalker) lit(s string, k jkind) bool {
	if !prefixEither(w.d[w.i:], s) || len(w.d)-w.i < len(s) {
		return false
	}
	w.i += len(s)
	w.v.value(&w.path, k, nil)
	return true
}

// str reads a string at w.i (on its quote) and returns its raw, still escaped, bytes.
func (w *jwalker) str() ([]byte, bool) {
	start := w.i + 1
	j := start
	for {
		q := bytes.IndexByte(w.d[j:], '"')
		if q < 0 {
			w.i = len(w.d)
			return w.d[start:], false
		}
		j += q
		bs := 0
		for k := j - 1; k >= start && w.d[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			w.i = j + 1
			return w.d[start:j], true
		}
		j++
	}
}

func (w *jwalker) object() bool {
	w.v.value(&w.path, jObject, nil)
	w.i++
	if w.path.n == maxJSONDepth {
		return false
	}
	for first := true; ; first = false {
		w.ws()
		if w.i >= len(w.d) {
			return false
		}
		if w.d[w.i] == '}' && first {
			w.i++
			return true
		}
		if w.d[w.i] != '"' {
			return false
		}
		key, ok := w.str()
		if !ok {
			return false
		}
		w.ws()
		if w.i >= len(w.d) || w.d[w.i] != ':' {
			return false
		}
		w.i++
		w.path.keys[w.path.n] = key
		w.path.n++
		ok = w.value()
		w.path.n--
		if !ok {
			return false
		}
		w.ws()
		if w.i >= len(w.d) {
			return false
		}
		switch w.d[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			return true
		default:
			return false
		}
	}
}

func (w *jwalker) array() bool {
	w.v.value(&w.path, jArray, nil)
	w.i++
	if w.path.n == maxJSONDepth {
		return false
	}
	for first := true; ; first = false {
		w.ws()
		if w.i >= len(w.d) {
			return false
		}
		if w.d[w.i] == ']' && first {
			w.i++
			return true
		}
		w.path.keys[w.path.n] = nil
		w.path.n++
		ok := w.value()
		w.path.n--
		if !ok {
			return false
		}
		w.ws()
		if w.i >= len(w.d) {
			return false
		}
		switch w.d[w.i] {
		case ',':
			w.i++
		case ']':
			w.i++
			return true
		default:
			return false
		}
	}
}

// jsonInt parses the integer part of a JSON number; ok is false for negatives and
// numbers that are not integers.
func jsonInt(raw []byte) (int64, bool) {
	i := 0
	for i < len(raw) && isDigit(raw[i]) {
		i++
	}
	if i == 0 || i > 18 {
		return 0, false
	}
	if i < len(raw) && raw[i] != '.' {
		return 0, false // exponent: not a count
	}
	n, _ := parseDecimal(raw[:i])
	return n, true
}

// jsonText unescapes a raw string (what walkJSON reported); a string cut inside an escape
// is returned as it stands.
func jsonText(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var s string
	if json.Unmarshal(q, &s) != nil {
		return string(raw)
	}
	return s
}

func isNumByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
