package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/testbed/proto"
)

// TestMain lets the test binary stand in for `testbed worker` and `testbed engine-core`,
// which the tests start as child processes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "worker":
			err = WorkerMain(os.Args[2:])
		case "engine-core":
			err = Main(os.Args[2:])
		default:
			os.Exit(m.Run())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testConfig is the configuration of the tests that run a core in this process. The
// simulated driver reads its costs once per process, so every in-process core uses
// DefaultConfig's costs and layers.
func testConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.Lib = fakecuda.BuildForTest(t).LibDir
	c.MaxNumSeqs = 64
	c.TruthPath = filepath.Join(t.TempDir(), "truth.jsonl")
	c.WorkerCommand = []string{os.Args[0], "worker"}
	return c
}

func startCore(t *testing.T, cfg Config) *Core {
	t.Helper()
	c, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// outcome is what the front end saw of one request.
type outcome struct {
	tokens []proto.Token
	steps  []uint64 // the step of each token
	final  *proto.Msg
}

func (o *outcome) done() bool {
	return o.final != nil || (len(o.tokens) > 0 && o.tokens[len(o.tokens)-1].Finished)
}

// collect reads out until every id has finished, failed or been rejected.
func collect(t *testing.T, out <-chan proto.Msg, ids []string, timeout time.Duration) map[string]*outcome {
	t.Helper()
	res := map[string]*outcome{}
	for _, id := range ids {
		res[id] = &outcome{}
	}
	left := len(ids)
	deadline := time.After(timeout)
	for left > 0 {
		select {
		case m, ok := <-out:
			if !ok {
				t.Fatalf("core output closed with %d requests open", left)
			}
			switch m.Op {
			case proto.OpStep:
				for _, tok := range m.Step.Tokens {
					o := res[tok.ID]
					if o == nil || o.done() {
						t.Fatalf("token %+v for an unknown or finished request", tok)
					}
					o.tokens, o.steps = append(o.tokens, tok), append(o.steps, m.Step.Index)
					if tok.Finished {
						left--
					}
				}
			case proto.OpFail, proto.OpReject:
				o := res[m.ID]
				if o == nil || o.done() {
					t.Fatalf("%s for an unknown or finished request %s", m.Op, m.ID)
				}
				mm := m
				o.final = &mm
				left--
			}
		case <-deadline:
			t.Fatalf("timed out with %d of %d requests open", left, len(ids))
		}
	}
	return res
}

func sendAdds(c interface{ Send(proto.Msg) }, prefix string, n, prompt, maxTokens int) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ids = append(ids, id)
		c.Send(proto.Msg{Op: proto.OpAdd, Add: &proto.Add{ID: id, PromptTokens: prompt, MaxTokens: maxTokens, ArrivalNS: now()}})
	}
	return ids
}

// readSteps parses the step lines of a truth file.
func readSteps(t *testing.T, path string) []stepLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []stepLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s stepLine
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("truth line %q: %v", sc.Text(), err)
		}
		if s.Kind == "step" {
			steps = append(steps, s)
		}
	}
	return steps
}

// expectedCost is a step's simulated GPU time.
func expectedCost(cfg Config, s stepLine) time.Duration {
	if s.StepKind == "decode" {
		return StepCost(cfg.Cost, cfg.Layers, false, padTo(captureSizes(cfg.MaxNumSeqs), s.DecodeTokens))
	}
	return StepCost(cfg.Cost, cfg.Layers, true, s.Tokens)
}

// overruns checks every step took at least its simulated cost (the driver never ends a
// wait early) and that the median overrun is under tolerance: single steps may run late
// when the machine is loaded (the step thread is preempted), systematic errors may not.
// It returns the overruns, sorted.
func overruns(t *testing.T, cfg Config, steps []stepLine, tolerance time.Duration) []time.Duration {
	t.Helper()
	var over []time.Duration
	for _, s := range steps {
		if s.Error != 0 {
			continue
		}
		got := time.Duration(s.EndNS - s.StartNS)
		want := expectedCost(cfg, s)
		// The input copy (a few bytes) may start just before start_ns.
		if got < want-time.Microsecond {
			t.Errorf("step %d (%s, %d tokens): took %v, under its simulated cost %v", s.Index, s.StepKind, s.Tokens, got, want)
		}
		over = append(over, got-want)
	}
	sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
	if m := pct(over, 0.5); m > tolerance {
		t.Errorf("median step overrun %v over %d steps, want under %v", m, len(over), tolerance)
	}
	return over
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}
