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
	reqs    *json.Encoder
	steps   *json.Encoder
	errs    *json.Encoder
	err     error
	Summary *Summary
}

// NewRecordWriter creates (or truncates) the record files in dir.
func NewRecordWriter(dir string) (*RecordWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("record dir: %w", err)
	}
	w := &RecordWriter{Summary: NewSummary()}
	var encs []*json.Encoder
	for _, name := range []string{RequestsFile, StepsFile, ErrorsFile} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("record file: %w", err)
		}
		b := bufio.NewWriterSize(f, 64<<10)
		w.files, w.bufs = append(w.files, f), append(w.bufs, b)
		encs = append(encs, json.NewEncoder(b))
	}
	w.reqs, w.steps, w.errs = encs[0], encs[1], encs[2]
	return w, nil
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
		w.keep(w.files[i].Close())
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
