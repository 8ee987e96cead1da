package truth

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "truth.jsonl")
	step := uint64(7)
	req := Request{Kind: KindRequest, ID: "cmpl-1", Path: "/v1/completions", Stream: true, ArrivalNS: 10,
		PrefillStep: &step, TokenNS: []uint64{20, 30}, FirstTokenNS: 20, EndNS: 31, PromptTokens: 5,
		CompletionTokens: 2, Status: 200, Class: ClassOK}
	st := Step{Kind: KindStep, Index: 7, StartNS: 11, EndNS: 19, StepKind: "prefill", Requests: []string{"cmpl-1"},
		BatchSize: 1, Tokens: 5, Workers: []Worker{{Rank: 1, PID: 3, StartNS: 12, EndNS: 18}}}
	// Two writers on one file, as the front end and the core are: 2 x 200 lines, none torn.
	var wg sync.WaitGroup
	for _, v := range []any{req, st} {
		w, err := Create(path)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			for range 200 {
				if err := w.Write(v); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	reqs, steps, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 200 || len(steps) != 200 {
		t.Fatalf("%d requests, %d steps: want 200 each", len(reqs), len(steps))
	}
	if !reflect.DeepEqual(reqs[199], req) || !reflect.DeepEqual(steps[0], st) {
		t.Fatalf("round trip: %+v / %+v", reqs[199], steps[0])
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, text, want string }{
		{"unknown kind", `{"kind":"request"}` + "\n" + `{"kind":"nope"}` + "\n", `truth line 2: unknown kind "nope"`},
		{"bad json", `{"kind":"step","index":"x"}` + "\n", "truth line 1: json: cannot unmarshal string into Go struct field Step.index of type uint64"},
		{"truncated", `{"kind":"step"}` + "\n" + `{"kind":"st`, "truth line 2: truncated last line"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.text), 0o644)
		_, _, err := Read(p)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	p := filepath.Join(dir, "extra")
	os.WriteFile(p, []byte(`{"kind":"step","index":1,"novel":true}`+"\n"), 0o644)
	if _, steps, err := Read(p); err != nil || len(steps) != 1 || steps[0].Index != 1 {
		t.Errorf("an unknown field: %v %v", steps, err)
	}
	if _, _, err := ReadStrict(p); err == nil || err.Error() != `truth line 1: json: unknown field "novel"` {
		t.Errorf("strict read of an unknown field: %v", err)
	}
	if _, _, err := Read(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

func TestClassOf(t *testing.T) {
	for _, tc := range []struct {
		status int
		ctx    bool
		want   string
	}{{200, false, ClassOK}, {429, false, ClassRateLimited}, {400, true, ClassContextLength},
		{400, false, ClassBadRequest}, {404, false, ClassBadRequest}, {500, false, ClassServerError}, {503, true, ClassServerError}} {
		if got := ClassOf(tc.status, tc.ctx); got != tc.want {
			t.Errorf("ClassOf(%d, %v) = %s, want %s", tc.status, tc.ctx, got, tc.want)
		}
	}
	if a, b := Now(), Now(); b < a || a < 1e6 {
		t.Errorf("Now went %d then %d", a, b)
	}
}
