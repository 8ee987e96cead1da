package wire

import "bytes"

// framing is how a message body is delimited.
type framing uint8

const (
	frameNone    framing = iota // no body
	frameLength                 // content-length bytes
	frameChunked                // chunked transfer coding
	frameClose                  // until the connection closes (responses only)
)

// chunk decoder states
type chunkState uint8

const (
	chSize    chunkState = iota // the hex size line
	chExt                       // the rest of the size line (extensions, CR)
	chData                      // chunk data
	chDataCR                    // the CR after the data
	chDataLF                    // the LF after the data
	chTrailer                   // trailer lines after the last chunk, up to an empty line
)

// maxChunkLine bounds a chunk size line with its extensions.
const maxChunkLine = 1024

// framer follows a body's framing over known and unknown bytes and hands its payload
// (the de-chunked body) to a sink. After done the rest of the input is not its own.
type framer struct {
	mode   framing
	remain int64 // frameLength: body bytes left; chunked chData: chunk bytes left
	st     chunkState
	size   uint64
	digits int
	lineN  int // bytes of the current size or trailer line
	done   bool
	lost   bool  // chunked framing lost in a gap: waiting for a fragment that starts a chunk
	moved  int64 // body bytes on the wire, framing included
}

func (fr *framer) start(mode framing, length int64) {
	*fr = framer{mode: mode, remain: length}
	if mode == frameNone || (mode == frameLength && length == 0) {
		fr.done = true
	}
}

// write consumes known bytes. It returns how many were the body's and an error when
// chunk framing is broken (the framer is then lost).
func (fr *framer) write(p []byte, s sink) (int, error) {
	if fr.done || fr.lost {
		if fr.lost {
			return len(p), nil
		}
		return 0, nil
	}
	switch fr.mode {
	case frameLength:
		n := int(min(int64(len(p)), fr.remain))
		s.write(p[:n])
		fr.remain -= int64(n)
		fr.moved += int64(n)
		fr.done = fr.remain == 0
		return n, nil
	case frameClose:
		s.write(p)
		fr.moved += int64(len(p))
		return len(p), nil
	}
	n, err := fr.chunked(p, s)
	fr.moved += int64(n)
	return n, err
}

func (fr *framer) chunked(p []byte, s sink) (int, error) {
	i := 0
	for i < len(p) && !fr.done {
		c := p[i]
		switch fr.st {
		case chSize:
			if v, ok := hexVal(c); ok {
				if fr.digits == 15 {
					return i, fr.breakFraming(s)
				}
				fr.size = fr.size<<4 | uint64(v)
				fr.digits++
				fr.lineN++
				i++
				continue
			}
			if fr.digits == 0 {
				return i, fr.breakFraming(s)
			}
			fr.st = chExt
		case chExt:
			i++
			fr.lineN++
			if c == '\n' {
				fr.lineN = 0
				if fr.size == 0 {
					fr.st = chTrailer
				} else {
					fr.st, fr.remain = chData, int64(fr.size)
				}
			} else if fr.lineN > maxChunkLine {
				return i, fr.breakFraming(s)
			}
		case chData:
			n := int(min(int64(len(p)-i), fr.remain))
			s.write(p[i : i+n])
			i += n
			fr.remain -= int64(n)
			if fr.remain == 0 {
				fr.st = chDataCR
			}
		case chDataCR, chDataLF:
			if c == '\n' {
				fr.nextChunk()
			} else if c != '\r' || fr.st == chDataLF {
				return i, fr.breakFraming(s)
			} else {
				fr.st = chDataLF
			}
			i++
		case chTrailer:
			i++
			switch {
			case c == '\n' && fr.lineN == 0:
				fr.done = true
			case c == '\n':
				fr.lineN = 0
			case c != '\r':
				fr.lineN++
			}
		}
	}
	return i, nil
}

func (fr *framer) nextChunk() { fr.st, fr.size, fr.digits, fr.lineN = chSize, 0, 0, 0 }

// breakFraming loses the framing and tells the sink that what follows is unknown.
func (fr *framer) breakFraming(s sink) error {
	fr.lost = true
	s.skip(0)
	return ErrMalformed
}

// skip consumes n unknown bytes. It returns the bytes that lie beyond the body's end
// (only for content-length bodies; a chunked body whose framing fell into the gap is lost
// instead and swallows the rest).
func (fr *framer) skip(n int64, s sink) (left int64) {
	if fr.done || fr.lost {
		if fr.done {
			return n
		}
		return 0
	}
	switch fr.mode {
	case frameLength:
		d := min(n, fr.remain)
		s.skip(d)
		fr.remain -= d
		fr.moved += d
		fr.done = fr.remain == 0
		return n - d
	case frameClose:
		s.skip(n)
		fr.moved += n
		return 0
	}
	fr.moved += n
	for n > 0 {
		switch fr.st {
		case chData:
			d := min(n, fr.remain)
			s.skip(d)
			n -= d
			fr.remain -= d
			if fr.remain == 0 {
				fr.st = chDataCR
			}
		case chDataCR:
			n--
			fr.st = chDataLF
		case chDataLF:
			n--
			fr.nextChunk()
		case chTrailer:
			if fr.lineN == 0 && n <= 2 { // the final CRLF, most likely
				fr.done = true
				return 0
			}
			fr.lost = true
			return 0
		default:
			fr.lost = true
			s.skip(n)
			return 0
		}
	}
	return 0
}

// resync is offered the head of each fragment while a chunked framer is lost. It returns
// true when the fragment starts with a chunk size line, so parsing can resume there.
func (fr *framer) resync(head []byte) bool {
	if !fr.lost || fr.mode != frameChunked || !startsChunk(head) {
		return false
	}
	fr.lost = false
	fr.nextChunk()
	return true
}

// lostEnd reports whether a fragment seen while lost ends the chunked body: its last
// known bytes, which reach the fragment's end, close with the last chunk.
func (fr *framer) lostEnd(f Fragment) bool {
	last := f.Tail
	if last == nil {
		if f.Gap() > 0 {
			return false
		}
		last = f.Head
	}
	if bytes.Equal(last, []byte("0\r\n\r\n")) || bytes.HasSuffix(last, []byte("\r\n0\r\n\r\n")) {
		fr.lost, fr.done = false, true
		return true
	}
	return false
}

// startsChunk reports whether b begins with a chunk size line: hex digits, optional
// extensions, CRLF.
func startsChunk(b []byte) bool {
	i := 0
	for i < len(b) && i < 16 {
		if _, ok := hexVal(b[i]); !ok {
			break
		}
		i++
	}
	if i == 0 || i == 16 {
		return false
	}
	rest := b[i:]
	if len(rest) > 0 && rest[0] == ';' {
		j := bytes.IndexByte(rest, '\n')
		return j > 0 && j < maxChunkLine && rest[j-1] == '\r'
	}
	return bytes.HasPrefix(rest, []byte("\r\n"))
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
