package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteTraceDir builds trace.json in dir from the requests.jsonl and steps.jsonl there
// and, when gpuSamples names a gpu.jsonl that exists, its NVML samples.
func WriteTraceDir(dir, gpuSamples string) error {
	var t Trace
	var err error
	if t.Requests, err = ReadRequests(filepath.Join(dir, RequestsFile)); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if t.Steps, err = ReadSteps(filepath.Join(dir, StepsFile)); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if gpuSamples != "" {
		t.GPU, err = ReadGPUSamples(gpuSamples)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("trace: %w", err)
		}
	}
	// Through a temporary file, so a failure leaves the trace that was there.
	tmp := filepath.Join(dir, "."+TraceFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if err := WriteTrace(f, t); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("trace: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, TraceFile)); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}
