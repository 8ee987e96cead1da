package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

func writeLines(t *testing.T, path string, vs ...any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func p[T any](v T) *T { return &v }

const msec = uint64(1e6)

// fixture: in the window [1000 ms, 2000 ms] a streamed request (a), a 400 without an id
// (b) and two steps; outside it, request c. Records: a (TTFT 0.4 ms off), b under a
// generated id, c, three steps of which one matches no truth step.
func fixture(t *testing.T) (truthPath, dir string) {
	t.Helper()
	dir = t.TempDir()
	truthPath = filepath.Join(dir, "truth.jsonl")
	writeLines(t, truthPath,
		truth.Request{Kind: truth.KindRequest, ID: "cmpl-a", Path: "/v1/completions", Stream: true, ArrivalNS: 1000 * msec,
			PrefillStartNS: 1002 * msec, PrefillStep: p(uint64(0)), FirstTokenNS: 1010 * msec, TokenNS: []uint64{1010 * msec, 1015 * msec, 1020 * msec},
			EndNS: 1021 * msec, PromptTokens: 5, CompletionTokens: 3, Status: 200, Class: truth.ClassOK},
		truth.Request{Kind: truth.KindRequest, ID: "cmpl-b", Path: "/v1/completions", ArrivalNS: 1500 * msec, EndNS: 1501 * msec,
			Status: 400, Class: truth.ClassContextLength},
		truth.Request{Kind: truth.KindRequest, ID: "cmpl-c", Path: "/v1/completions", Stream: true, ArrivalNS: 3000 * msec,
			FirstTokenNS: 3010 * msec, TokenNS: []uint64{3010 * msec}, EndNS: 3011 * msec, CompletionTokens: 1, Status: 200, Class: truth.ClassOK},
		truth.Step{Kind: truth.KindStep, Index: 0, StartNS: 1002 * msec, EndNS: 1009 * msec, StepKind: "prefill", Requests: []string{"cmpl-a"}, BatchSize: 1},
		truth.Step{Kind: truth.KindStep, Index: 1, StartNS: 1011 * msec, EndNS: 1014 * msec, StepKind: "decode", Requests: []string{"cmpl-a"}, BatchSize: 1},
	)
	rec := filepath.Join(dir, "record")
	if err := os.Mkdir(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	writeLines(t, filepath.Join(rec, export.RequestsFile),
		correlate.Request{ID: "cmpl-a", Status: p(200), Class: "ok", Stream: true, ArrivalNS: p(uint64(1000*msec + 10_000)),
			FirstTokenNS: p(1010*msec + 400_000), EndNS: 1021 * msec, TTFT: p(0.0104), TPOT: p(0.005), E2E: p(0.021),
			Queue: p(0.002), Prefill: p(0.0084), Decode: p(0.011)},
		correlate.Request{ID: "inferprobe-7", Status: p(400), Class: "context_length", ArrivalNS: p(uint64(1500*msec + 20_000)), EndNS: 1501 * msec, E2E: p(0.001)},
		correlate.Request{ID: "cmpl-c", Status: p(200), Class: "ok", Stream: true, ArrivalNS: p(uint64(3000 * msec)), EndNS: 3011 * msec, E2E: p(0.011)},
	)
	writeLines(t, filepath.Join(rec, export.StepsFile),
		correlate.Step{ID: 1, StartNS: 1002*msec + 300_000, EndNS: 1009 * msec, Kind: "prefill", Launches: 57, Wait: 0.004, BatchSize: p(1)},
		correlate.Step{ID: 2, StartNS: 1011*msec + 100_000, EndNS: 1014*msec + 200_000, Kind: "decode", Launches: 40, GraphLaunches: 0, Wait: 0.001, BatchSize: p(1)},
		correlate.Step{ID: 3, StartNS: 1300 * msec, EndNS: 1301 * msec, Kind: "decode", Launches: 40},
	)
	return truthPath, rec
}

func TestCompareWindow(t *testing.T) {
	truthPath, rec := fixture(t)
	var out bytes.Buffer
	if err := runCompare([]string{"--from", "1000000000", "--to", "2000000000", "--title", "t", truthPath, rec}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"t: 2 requests in truth, 2 found, 0 missing, 0 duplicated, 0 extra; 0 status and 0 class mismatches",
		"GPU steps: 2 in truth, 3 recorded, 1 recorded steps matched no truth step",
		"accuracy bar: met",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// the prefill row: 1 of 1 matched, kind equal, start off by 0.3 ms, 57 launches, 4 ms wait
	if !rowHas(s, "prefill", "1", "1", "1", "0.3", "0.3", "0", "0", "57", "0", "4") {
		t.Errorf("prefill row wrong:\n%s", s)
	}
	if !rowHas(s, "decode", "1", "1", "1", "0.1", "0.1", "0.2", "0.2", "40", "0", "1") {
		t.Errorf("decode row wrong:\n%s", s)
	}
}

// rowHas reports whether some line of s has exactly these fields.
func rowHas(s string, fields ...string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.Join(strings.Fields(l), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func TestCompareWholeFileAndEmptyWindow(t *testing.T) {
	truthPath, rec := fixture(t)
	var out bytes.Buffer
	if err := runCompare([]string{truthPath, rec}, &out); err != nil {
		t.Fatal(err)
	}
	// c has no first token in the records: its TTFT is missing, so the bar is missed
	if !strings.Contains(out.String(), "3 requests in truth, 3 found") || !strings.Contains(out.String(), "accuracy bar: missed") {
		t.Errorf("whole file:\n%s", out.String())
	}
	err := runCompare([]string{"--from", "5000000000", truthPath, rec}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no truth requests in the window") {
		t.Errorf("empty window: %v", err)
	}
	if err := runCompare([]string{truthPath}, &bytes.Buffer{}); err != errUsage {
		t.Errorf("one argument: %v", err)
	}
}

func TestMatchStepsTakesEachRecordOnce(t *testing.T) {
	steps := []correlate.Step{{ID: 1, StartNS: 1000}, {ID: 2, StartNS: 5_000_000}}
	tsteps := []truth.Step{{StartNS: 900}, {StartNS: 1100}, {StartNS: 4_500_000}, {StartNS: 9_000_000}}
	pairs, extra := matchSteps(steps, tsteps)
	if pairs[0] == nil || pairs[0].ID != 1 || pairs[1] != nil || pairs[2] == nil || pairs[2].ID != 2 || pairs[3] != nil || extra != 0 {
		t.Fatalf("pairs %v, extra %d", pairs, extra)
	}
}
