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
	f, err := os.Create(filepath.Join(dir, TraceFile))
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if err := WriteTrace(f, t); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}
