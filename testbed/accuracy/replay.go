package accuracy

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Artifacts of a kept run (INFERPROBE_ACCURACY_KEEP=DIR keeps DIR/<mode>/...).
const (
	TruthFile  = "truth.jsonl"
	ClientFile = "client.jsonl"
	RecordDir  = "record"
	EventsFile = "events.jsonl"
)

// collect is a correlate.Sink that keeps the records.
type collect struct {
	reqs  []correlate.Request
	steps []correlate.Step
}

func (c *collect) Request(r *correlate.Request)    { c.reqs = append(c.reqs, *r) }
func (c *collect) Step(s *correlate.Step)          { c.steps = append(c.steps, *s) }
func (c *collect) CUDAError(string, gpustep.Error) {}
func (c *collect) Stall(string, gpustep.Stall)     {}

// Replay re-correlates a raw event stream (a recording's events.jsonl) with opt, as
// `inferprobe replay` does (correlate.Replay), and returns the records.
func Replay(r io.Reader, opt correlate.Options) ([]correlate.Request, []correlate.Step, error) {
	var out collect
	if _, err := correlate.Replay(r, opt, &out); err != nil {
		return nil, nil, err
	}
	return out.reqs, out.steps, nil
}

// ReplayDir re-correlates the events kept in dir (a mode's directory of a kept run) with
// opt and compares the records with the truth kept beside them. With keep set, the
// records are also written to dir as keep-requests.jsonl and keep-steps.jsonl.
func ReplayDir(dir string, opt correlate.Options, keep string) (*Report, error) {
	f, err := os.Open(filepath.Join(dir, RecordDir, EventsFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reqs, steps, err := Replay(f, opt)
	if err != nil {
		return nil, err
	}
	if keep != "" {
		if err := writeJSONL(filepath.Join(dir, keep+"-requests.jsonl"), reqs); err != nil {
			return nil, err
		}
		if err := writeJSONL(filepath.Join(dir, keep+"-steps.jsonl"), steps); err != nil {
			return nil, err
		}
	}
	return CompareWithTruth(filepath.Join(dir, TruthFile), reqs, steps)
}

// CompareWithTruth reads the truth file and compares the records with it: only the
// completions count (not the health checks made before recording), and only the truth
// steps from the first recorded step on.
func CompareWithTruth(truthPath string, reqs []correlate.Request, steps []correlate.Step) (*Report, error) {
	treqs, tsteps, err := truth.Read(truthPath)
	if err != nil {
		return nil, err
	}
	if len(steps) > 0 {
		first := steps[0].StartNS
		for _, s := range steps {
			first = min(first, s.StartNS)
		}
		kept := tsteps[:0]
		for _, s := range tsteps {
			if s.StartNS+1e6 >= first {
				kept = append(kept, s)
			}
		}
		tsteps = kept
	}
	return Compare(reqs, steps, onlyCompletions(treqs), tsteps), nil
}

// CompareLiveWithTruth is CompareWithTruth for a recording attached at attachNS to a
// server already under load (CompareLive).
func CompareLiveWithTruth(truthPath string, reqs []correlate.Request, steps []correlate.Step, attachNS uint64) (*Report, error) {
	treqs, tsteps, err := truth.Read(truthPath)
	if err != nil {
		return nil, err
	}
	return CompareLive(reqs, steps, onlyCompletions(treqs), tsteps, attachNS), nil
}

// onlyCompletions drops the health checks the test made before the recording.
func onlyCompletions(reqs []truth.Request) []truth.Request {
	out := reqs[:0]
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/v1/") && r.Method == "POST" {
			out = append(out, r)
		}
	}
	return out
}

// writeJSONL writes v, one JSON object a line, to path.
func writeJSONL[T any](path string, v []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for i := range v {
		if err := enc.Encode(&v[i]); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return f.Close()
}
