package wire

import "bytes"

// maxLine is the most bytes kept of one line (a start line, a header, an SSE line); the
// rest of a longer line is dropped and the line is marked truncated.
const maxLine = 8 << 10

// lineBuf assembles lines from fragments of any size. A line that lies whole in one
// input slice is returned without copying.
type lineBuf struct {
	buf   []byte
	over  bool // the line held more than maxLine bytes
	taken bool // the last call returned a line: start afresh on the next one
}

// next consumes p up to and including the first '\n'. ok reports a complete line,
// returned without its line ending; it stays valid until the next call.
func (l *lineBuf) next(p []byte) (n int, line []byte, ok bool) {
	if l.taken {
		l.reset()
	}
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		l.add(p)
		return len(p), nil, false
	}
	if len(l.buf) == 0 && !l.over && i <= maxLine {
		line = p[:i]
	} else {
		l.add(p[:i])
		line = l.buf
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	l.taken = true
	return i + 1, line, true
}

func (l *lineBuf) add(p []byte) {
	room := maxLine - len(l.buf)
	if len(p) > room {
		p = p[:room]
		l.over = true
	}
	l.buf = append(l.buf, p...)
}

// partial is the start of the line being assembled.
func (l *lineBuf) partial() []byte {
	if l.taken {
		return nil
	}
	return l.buf
}

// truncated reports whether the last line returned was cut at maxLine.
func (l *lineBuf) truncated() bool { return l.over }

func (l *lineBuf) reset() {
	l.buf = l.buf[:0]
	l.over = false
	l.taken = false
}

// release drops the buffer, so an idle connection holds no line memory.
func (l *lineBuf) release() { *l = lineBuf{} }
