package event

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The raw event stream of `inferprobe record` is JSON lines, one event a line, each with
// a "type" of "cuda", "sock" or "proc". Writer and Reader are the one codec for it.

// Type names an event's kind as it appears in the stream.
func Type(e Event) string {
	switch e.(type) {
	case *CUDA:
		return "cuda"
	case *Sock:
		return "sock"
	case *Proc:
		return "proc"
	}
	return ""
}

// Writer writes events as JSON lines.
type Writer struct {
	bw *bufio.Writer
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes one event: its JSON object with "type" as the first member.
func (w *Writer) Write(e Event) error {
	typ := Type(e)
	if typ == "" {
		return fmt.Errorf("write event: unknown type %T", e)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	w.bw.WriteString(`{"type":"`)
	w.bw.WriteString(typ)
	w.bw.WriteString(`",`)
	w.bw.Write(b[1:])
	return w.bw.WriteByte('\n')
}

// Flush writes out buffered events.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Reader reads events written by Writer. A line it cannot decode is reported as a
// *LineError and skipped: the next Read goes on after it.
type Reader struct {
	sc   *bufio.Scanner
	line int
	next []byte // a line scanned ahead (to know whether a bad line was the last)
	more bool   // next holds a line
	err  error  // the scanner's error, once it stopped
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &Reader{sc: sc}
}

// ErrUnknownType is returned for a line whose type is not an event type.
var ErrUnknownType = errors.New("unknown event type")

// LineError is a line that is not an event. Last says no line follows it: a file cut off
// in the middle of its last write (a recorder that was killed) ends so.
type LineError struct {
	Line int
	Last bool
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("event line %d: %v", e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// scan returns the next line (a copy), or false at the end.
func (r *Reader) scan() ([]byte, bool) {
	if r.more {
		r.more = false
		return r.next, true
	}
	if !r.sc.Scan() {
		r.err = r.sc.Err()
		return nil, false
	}
	return append([]byte(nil), r.sc.Bytes()...), true
}

// peek reports whether another line follows.
func (r *Reader) peek() bool {
	if r.more {
		return true
	}
	r.next, r.more = r.scan()
	return r.more
}

// Read returns the next event, a *LineError for a line that is not one, or io.EOF after
// the last line.
func (r *Reader) Read() (Event, error) {
	for {
		b, ok := r.scan()
		if !ok {
			break
		}
		r.line++
		if len(b) == 0 {
			continue
		}
		e, err := decodeLine(b)
		if err != nil {
			return nil, &LineError{Line: r.line, Err: err, Last: !r.peek()}
		}
		return e, nil
	}
	if r.err != nil {
		return nil, &LineError{Line: r.line + 1, Err: r.err, Last: true}
	}
	return nil, io.EOF
}

func decodeLine(b []byte) (Event, error) {
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, err
	}
	var e Event
	switch probe.Type {
	case "cuda":
		e = new(CUDA)
	case "sock":
		e = new(Sock)
	case "proc":
		e = new(Proc)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownType, probe.Type)
	}
	if err := json.Unmarshal(b, e); err != nil {
		return nil, err
	}
	return e, nil
}
