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

// Reader reads events written by Writer.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	return &Reader{sc: sc}
}

// ErrUnknownType is returned for a line whose type is not an event type.
var ErrUnknownType = errors.New("unknown event type")

// Read returns the next event, or io.EOF after the last.
func (r *Reader) Read() (Event, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var probe struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("event line %d: %w", r.line, err)
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
			return nil, fmt.Errorf("event line %d: %w %q", r.line, ErrUnknownType, probe.Type)
		}
		if err := json.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("event line %d: %w", r.line, err)
		}
		return e, nil
	}
	if err := r.sc.Err(); err != nil {
		return nil, fmt.Errorf("event line %d: %w", r.line+1, err)
	}
	return nil, io.EOF
}
