package truth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Writer appends truth lines to a file opened with O_APPEND, one write(2) per line, so
// the front end and the engine core (possibly separate processes) can share one file
// without interleaving lines. It is safe for concurrent use.
type Writer struct {
	f *os.File
}

// Create opens path for appending, creating it if needed.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open truth file: %w", err)
	}
	return &Writer{f: f}, nil
}

// Write appends v as one JSON line in a single write. A nil Writer discards.
func (w *Writer) Write(v any) error {
	if w == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode truth line: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write truth line: %w", err)
	}
	return nil
}

// Close closes the file. A nil Writer is a no-op.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	return w.f.Close()
}

// Read parses a truth file into its request and step lines, in file order. A line of
// an unknown kind, or one that does not parse, is an error naming its line number;
// fields this package does not know are ignored.
func Read(path string) ([]Request, []Step, error) {
	return read(path, false)
}

// ReadStrict is Read, except that a field this package does not know is an error: tests
// use it to hold the writers (the Go and Python front ends, the engine) to these types.
func ReadStrict(path string) ([]Request, []Step, error) {
	return read(path, true)
}

func read(path string, strict bool) ([]Request, []Step, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open truth file: %w", err)
	}
	defer f.Close()
	return parse(f, strict)
}

// ErrTruncated reports a last line without its newline (a writer still running or killed).
var ErrTruncated = errors.New("truncated last line")

// Parse is Read over an open file.
func Parse(r io.Reader) ([]Request, []Step, error) { return parse(r, false) }

func parse(src io.Reader, strict bool) ([]Request, []Step, error) {
	var reqs []Request
	var steps []Step
	r := bufio.NewReaderSize(src, 1<<16)
	decode := func(line []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(line))
		if strict {
			d.DisallowUnknownFields()
		}
		return d.Decode(v)
	}
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] != '\n' {
			return reqs, steps, fmt.Errorf("truth line %d: %w", n, ErrTruncated)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return reqs, steps, fmt.Errorf("read truth file: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			return reqs, steps, fmt.Errorf("truth line %d: %w", n, err)
		}
		switch head.Kind {
		case KindRequest:
			var q Request
			if err := decode(line, &q); err != nil {
				return reqs, steps, fmt.Errorf("truth line %d: %w", n, err)
			}
			reqs = append(reqs, q)
		case KindStep:
			var s Step
			if err := decode(line, &s); err != nil {
				return reqs, steps, fmt.Errorf("truth line %d: %w", n, err)
			}
			steps = append(steps, s)
		default:
			return reqs, steps, fmt.Errorf("truth line %d: unknown kind %q", n, head.Kind)
		}
	}
	return reqs, steps, nil
}
