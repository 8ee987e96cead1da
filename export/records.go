package export

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

// Record file names in a record directory (design.md, Outputs).
const (
	RequestsFile = "requests.jsonl"
	StepsFile    = "steps.jsonl"
	ErrorsFile   = "cuda_errors.jsonl"
	EventsFile   = "events.jsonl"
)

// RecordWriter is a correlate.Sink that writes requests.jsonl, steps.jsonl and
// cuda_errors.jsonl into a directory, one JSON object a line, and keeps the summary.
type RecordWriter struct {
	files   []*os.File
	bufs    []*bufio.Writer
	final   []string // with temporary files: the names they take at Close
	reqs    *json.Encoder
	steps   *json.Encoder
	errs    *json.Encoder
	err     error
	Summary *Summary
}

// NewRecordWriter creates (or truncates) the record files in dir. They are written as
// records come (Flush pushes what is buffered), so a recorder killed midway leaves the
// records it had flushed.
func NewRecordWriter(dir string) (*RecordWriter, error) { return newRecordWriter(dir, false) }

// NewRecordWriterTemp writes the record files of dir under temporary names that Close
// renames over the files, so the records already in dir stay as they were until then,
// and for good when Abort is called instead.
func NewRecordWriterTemp(dir string) (*RecordWriter, error) { return newRecordWriter(dir, true) }

func newRecordWriter(dir string, temp bool) (*RecordWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("record dir: %w", err)
	}
	w := &RecordWriter{Summary: NewSummary()}
	var encs []*json.Encoder
	for _, name := range []string{RequestsFile, StepsFile, ErrorsFile} {
		path := filepath.Join(dir, name)
		open := path
		if temp {
			open = filepath.Join(dir, "."+name+".tmp")
			w.final = append(w.final, path)
		}
		f, err := os.OpenFile(open, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("record file: %w", err)
		}
		b := bufio.NewWriterSize(f, 64<<10)
		w.files, w.bufs = append(w.files, f), append(w.bufs, b)
		encs = append(encs, json.NewEncoder(b))
	}
	w.reqs, w.steps, w.errs = encs[0], encs[1], encs[2]
	return w, nil
}

// Flush writes out what is buffered and returns the first write error so far.
func (w *RecordWriter) Flush() error {
	for _, b := range w.bufs {
		w.keep(b.Flush())
	}
	return w.err
}

// Abort closes the files; temporary ones are removed, leaving dir as it was.
func (w *RecordWriter) Abort() {
	for _, f := range w.files {
		f.Close()
		if w.final != nil {
			os.Remove(f.Name())
		}
	}
	w.bufs, w.files = nil, nil
}

func (w *RecordWriter) keep(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Request implements correlate.Sink.
func (w *RecordWriter) Request(r *correlate.Request) {
	w.Summary.Request(r)
	w.keep(w.reqs.Encode(r))
}

// Step implements correlate.Sink.
func (w *RecordWriter) Step(s *correlate.Step) {
	w.Summary.Step(s)
	w.keep(w.steps.Encode(s))
}

// CUDAError implements correlate.Sink.
func (w *RecordWriter) CUDAError(unit string, e gpustep.Error) {
	w.Summary.CUDAError(unit, e)
	w.keep(w.errs.Encode(struct {
		Unit string `json:"unit"`
		gpustep.Error
	}{unit, e}))
}

// Stall implements correlate.Sink.
func (w *RecordWriter) Stall(unit string, s gpustep.Stall) { w.Summary.Stall(unit, s) }

// Close flushes and closes the files and returns the first write error.
func (w *RecordWriter) Close() error {
	for i, b := range w.bufs {
		w.keep(b.Flush())
		if w.final != nil {
			w.keep(w.files[i].Sync())
		}
		w.keep(w.files[i].Close())
	}
	if w.err != nil {
		if w.final != nil {
			w.Abort()
		}
		return fmt.Errorf("write records: %w", w.err)
	}
	for i, f := range w.files {
		if w.final != nil {
			w.keep(os.Rename(f.Name(), w.final[i]))
		}
	}
	w.bufs, w.files = nil, nil
	if w.err != nil {
		return fmt.Errorf("write records: %w", w.err)
	}
	return nil
}

// ReadRequests reads a requests.jsonl file.
func ReadRequests(path string) ([]correlate.Request, error) {
	return readLines[correlate.Request](path)
}

// ReadSteps reads a steps.jsonl file.
func ReadSteps(path string) ([]correlate.Step, error) {
	return readLines[correlate.Step](path)
}

func readLines[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("%s record %d: %w", filepath.Base(path), len(out)+1, err)
		}
		out = append(out, v)
	}
}
