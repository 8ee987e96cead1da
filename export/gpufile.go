package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/inferprobe/inferprobe/gpu"
)

// GPUFile is the record file of NVML samples, one GPUSample a line.
const GPUFile = "gpu.jsonl"

// TraceFile is the Perfetto-loadable trace of a record directory.
const TraceFile = "trace.json"

// GPUSample is one NVML sample of every GPU, at TS (CLOCK_MONOTONIC ns, the clock of the
// events), for the counter tracks of trace.json.
type GPUSample struct {
	TS      uint64       `json:"ts"`
	Devices []gpu.Device `json:"devices"`
}

// GPUWriter appends GPU samples to gpu.jsonl. It is not safe for concurrent use.
type GPUWriter struct {
	f   *os.File
	b   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewGPUWriter creates (or truncates) gpu.jsonl in dir.
func NewGPUWriter(dir string) (*GPUWriter, error) {
	f, err := os.OpenFile(filepath.Join(dir, GPUFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("gpu samples file: %w", err)
	}
	b := bufio.NewWriter(f)
	return &GPUWriter{f: f, b: b, enc: json.NewEncoder(b)}, nil
}

// Write appends one sample; the first error is kept and returned by Close.
func (w *GPUWriter) Write(s GPUSample) {
	if w.err == nil {
		w.err = w.enc.Encode(s)
	}
}

// Close flushes and closes the file.
func (w *GPUWriter) Close() error {
	if err := w.b.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = err
	}
	if w.err != nil {
		return fmt.Errorf("write gpu samples: %w", w.err)
	}
	return nil
}

// ReadGPUSamples reads a gpu.jsonl file.
func ReadGPUSamples(path string) ([]GPUSample, error) {
	return readLines[GPUSample](path)
}
