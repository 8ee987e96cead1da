package accuracy

import (
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

func p[T any](v T) *T { return &v }

func TestCompare(t *testing.T) {
	const ms = 1_000_000
	tsteps := []truth.Step{
		{Index: 0, StartNS: 10 * ms, EndNS: 20 * ms, BatchSize: 2, Requests: []string{"a", "b"}},
		{Index: 1, StartNS: 21 * ms, EndNS: 31 * ms, BatchSize: 2, Requests: []string{"a", "b"}},
	}
	treqs := []truth.Request{
		{ID: "a", Stream: true, Status: 200, Class: "ok", ArrivalNS: 5 * ms, PrefillStartNS: 10 * ms, PrefillStep: p(uint64(0)),
			TokenNS: []uint64{20*ms + 100_000, 31*ms + 100_000}, FirstTokenNS: 20*ms + 100_000, EndNS: 32 * ms, CompletionTokens: 2},
		// Not streamed: its first token is the end of step 0.
		{ID: "b", Status: 200, Class: "ok", ArrivalNS: 6 * ms, PrefillStartNS: 10 * ms, PrefillStep: p(uint64(0)),
			FirstTokenNS: 32 * ms, EndNS: 32 * ms, CompletionTokens: 2},
		{ID: "c", Status: 429, Class: "rate_limited", ArrivalNS: 7 * ms, EndNS: 7*ms + 50_000},
	}
	reqs := []correlate.Request{
		{ID: "a", Status: p(200), Class: "ok", TTFT: p(0.0151), E2E: p(0.027), TPOT: p(0.011), Queue: p(0.005), Prefill: p(0.0101), Decode: p(0.0119)},
		{ID: "b", Status: p(200), Class: "ok", TTFT: p(0.0140), E2E: p(0.026), TPOT: p(0.011), Queue: p(0.004), Prefill: p(0.010), Decode: p(0.012), Estimated: true},
		{ID: "inferprobe-1", ArrivalNS: p(uint64(7*ms + 100)), Status: p(429), Class: "bad_request", E2E: p(0.00005)}, // no response id: matched by arrival
		{ID: "zzz", Status: p(200)},
	}
	steps := []correlate.Step{{StartNS: 10*ms + 300_000, BatchSize: p(2)}, {StartNS: 21 * ms, BatchSize: p(1)}}
	r := Compare(reqs, steps, treqs, tsteps)
	if r.TruthRequests != 3 || r.Found != 3 || r.Missing != 0 || r.Extra != 1 {
		t.Fatalf("counts %+v", r)
	}
	if len(r.ClassWrong) != 1 || !strings.HasPrefix(r.ClassWrong[0], "inferprobe-1:") {
		t.Fatalf("class mismatches %v", r.ClassWrong)
	}
	// a: ttft error 0, b: ttft 14 ms vs truth 20-6 = 14 ms: both within 1 ms.
	if r.Within["ttft"] != 2 || len(r.Errs["ttft"]) != 2 {
		t.Fatalf("ttft within %d of %d", r.Within["ttft"], len(r.Errs["ttft"]))
	}
	// b's e2e is off by 0 (26 ms), a's by 0: the 429's e2e is exact too.
	if r.Within["e2e"] != 3 {
		t.Fatalf("e2e within %d: %v", r.Within["e2e"], r.Errs["e2e"])
	}
	if r.StepsMatched != 2 || r.BatchEqual != 1 {
		t.Fatalf("steps matched %d equal %d", r.StepsMatched, r.BatchEqual)
	}
	f := strings.Join(r.Failures(), "\n")
	for _, want := range []string{"1 extra", "1 classes wrong", "batch size: 1 of 2"} {
		if !strings.Contains(f, want) {
			t.Errorf("failures lack %q:\n%s", want, f)
		}
	}
	var b strings.Builder
	r.Table(&b, "unit test")
	if !strings.Contains(b.String(), "ttft") || !strings.Contains(b.String(), "batch size equal for 1 (50.0%)") {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestMatchAnonymous: records without a response id pair with their truth by arrival
// and end, though the truth's stamps trail the syscalls by milliseconds.
func TestMatchAnonymous(t *testing.T) {
	const ms = 1_000_000
	treqs := []truth.Request{
		// Stamped 3 ms after the read that inferprobe saw at 10 ms (a thread that got
		// back late): the old 2 ms window missed it.
		{ID: "req-a", Status: 429, Class: "rate_limited", ArrivalNS: 13 * ms, EndNS: 13*ms + 300_000},
		// Arrived 1 ms after a's read: nearer a's truth arrival than a's record is, but
		// its end tells them apart.
		{ID: "req-b", Status: 400, Class: "context_length", ArrivalNS: 11*ms + 20_000, EndNS: 15 * ms},
		{ID: "req-c", Status: 429, Class: "rate_limited", ArrivalNS: 40 * ms, EndNS: 40*ms + 100_000},
	}
	reqs := []correlate.Request{
		{ID: "inferprobe-1", Status: p(429), Class: "rate_limited", ArrivalNS: p(uint64(10 * ms)), EndNS: 13*ms + 290_000},
		{ID: "inferprobe-2", Status: p(400), Class: "context_length", ArrivalNS: p(uint64(11 * ms)), EndNS: 15*ms - 5_000},
		// c's record came 12 ms before it: too early to be its.
		{ID: "inferprobe-3", Status: p(429), Class: "rate_limited", ArrivalNS: p(uint64(28 * ms)), EndNS: 28*ms + 100_000},
	}
	byID := map[string][]*correlate.Request{}
	got := matchAnonymous(reqs, treqs, byID)
	want := map[int]string{0: "inferprobe-1", 1: "inferprobe-2"}
	if len(got) != len(want) {
		t.Fatalf("matched %d, want %d: %v", len(got), len(want), got)
	}
	for i, id := range want {
		if got[i] == nil || got[i].ID != id {
			t.Errorf("truth %s matched %v, want %s", treqs[i].ID, got[i], id)
		}
	}
	r := Compare(reqs, nil, treqs, nil)
	if r.Found != 2 || r.Missing != 1 || r.Extra != 1 || len(r.StatusWrong) != 0 {
		t.Fatalf("report %+v", r)
	}
}

// CompareLive: requests from LiveJoin after the attach must be whole, those in flight at
// it are the partial records, and what arrived in between is neither required nor extra.
func TestCompareLive(t *testing.T) {
	const s = uint64(1e9)
	p := func(v uint64) *uint64 { return &v }
	st := func(v int) *int { return &v }
	treqs := []truth.Request{
		{ID: "a", Stream: true, Status: 200, Class: "ok", ArrivalNS: 5 * s, EndNS: 11 * s}, // in flight at 10 s
		{ID: "b", Stream: true, Status: 200, Class: "ok", ArrivalNS: 9 * s, EndNS: 12 * s}, // in flight
		{ID: "c", Status: 200, Class: "ok", ArrivalNS: 10*s + s/2, EndNS: 13 * s},          // in the first second
		{ID: "d", Status: 200, Class: "ok", ArrivalNS: 12 * s, EndNS: 14 * s},              // must be found
		{ID: "e", Status: 200, Class: "ok", ArrivalNS: 8 * s, EndNS: 9 * s},                // over before it
	}
	reqs := []correlate.Request{
		{ID: "a", Partial: true, JoinedNS: 10*s + 1, EndNS: 11 * s, Class: "ok"},
		{ID: "b", Partial: true, JoinedNS: 10*s + 2, EndNS: 12 * s, Class: "ok"},
		{ID: "c", ArrivalNS: p(10*s + s/2), EndNS: 13 * s, Status: st(200), Class: "ok", E2E: pf(2.5)},
		{ID: "d", ArrivalNS: p(12 * s), EndNS: 14 * s, Status: st(200), Class: "ok", E2E: pf(2)},
	}
	r := CompareLive(reqs, nil, treqs, nil, 10*s)
	if r.TruthRequests != 1 || r.Found != 1 || r.Extra != 0 || r.Partial != 2 || r.InFlight != 2 || len(r.Failures()) != 0 {
		t.Fatalf("report %+v, failures %v", r, r.Failures())
	}
	// d recorded as partial: wrong, and d then missing.
	reqs[3].Partial, reqs[3].ArrivalNS = true, nil
	r = CompareLive(reqs, nil, treqs, nil, 10*s)
	if r.Missing != 1 || len(r.PartialWrong) != 1 || len(r.Failures()) != 2 {
		t.Fatalf("report %+v, failures %v", r, r.Failures())
	}
}

func pf(v float64) *float64 { return &v }
