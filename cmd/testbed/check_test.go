package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

func readRecords(t *testing.T, b []byte) []load.Record {
	t.Helper()
	var out []load.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r load.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// diffs holds |client - truth| for one kind of timing.
type diffs []time.Duration

func (d *diffs) add(client, server uint64) {
	v := time.Duration(int64(client - server))
	*d = append(*d, max(v, -v))
}

func (d diffs) q(q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// within is the fraction at most lim.
func (d diffs) within(lim time.Duration) float64 {
	n := 0
	for _, v := range d {
		if v <= lim {
			n++
		}
	}
	return float64(n) / float64(max(1, len(d)))
}

func (d diffs) String() string {
	return fmt.Sprintf("%d: p50 %v p99 %v max %v, %.1f%% within 1ms", len(d), d.q(0.5), d.q(0.99), d.q(1), 100*d.within(time.Millisecond))
}

// timings compares the client's view with the truth. writes are the server's writes
// against the client's reads of them: each token (the first included) and each end.
// ttft is the client's TTFT against the truth's, which also differ by how long the
// request waited in the socket before the server read it (lag: arrival - send).
type timings struct {
	writes, ttft, lag diffs
}

// check matches what the client saw with the ground truth, request by request, and
// checks the step lines against the requests.
func check(t *testing.T, recs []load.Record, reqs []truth.Request, steps []truth.Step, pid int) *timings {
	t.Helper()
	byRID := map[string]truth.Request{}
	for _, q := range reqs {
		if q.Path != "/v1/completions" && q.Path != "/v1/chat/completions" {
			continue
		}
		if q.RequestID == "" {
			t.Fatalf("truth line without the client's request id: %+v", q)
		}
		if _, dup := byRID[q.RequestID]; dup {
			t.Fatalf("request %s twice in truth", q.RequestID)
		}
		byRID[q.RequestID] = q
	}
	if len(byRID) != len(recs) {
		t.Fatalf("%d completions in truth, the client sent %d", len(byRID), len(recs))
	}
	inSteps := map[string]int{}
	stepByIndex := map[uint64]truth.Step{}
	for _, s := range steps {
		if _, dup := stepByIndex[s.Index]; dup {
			t.Fatalf("step %d twice", s.Index)
		}
		stepByIndex[s.Index] = s
		if s.BatchSize != len(s.Requests) || s.BatchSize > 8 || s.EndNS < s.StartNS {
			t.Fatalf("step %+v", s)
		}
		for _, id := range s.Requests {
			inSteps[id]++
		}
	}
	st := &timings{}
	classes := map[string]int{}
	lateAborts := 0
	for _, c := range recs {
		q, ok := byRID[c.RequestID]
		if !ok {
			t.Fatalf("client request %s not in truth", c.RequestID)
		}
		if q.PID != pid {
			t.Fatalf("%s: truth pid %d, the front end is %d", c.RequestID, q.PID, pid)
		}
		if q.ArrivalNS < c.SendNS || q.EndNS < q.ArrivalNS {
			t.Fatalf("%s: arrival %d before the send at %d, or end %d before it", c.RequestID, q.ArrivalNS, c.SendNS, q.EndNS)
		}
		if c.ID != "" && c.ID != q.ID {
			t.Fatalf("%s: client saw id %s, truth says %s", c.RequestID, c.ID, q.ID)
		}
		classes[c.Class]++
		if c.Class == truth.ClassAborted && q.Class == truth.ClassOK && q.CompletionTokens == c.MaxTokens {
			lateAborts++ // the server had written everything before it saw the close
			continue
		}
		if c.Class != q.Class || (c.Status != q.Status && c.Status != 0) {
			t.Fatalf("%s: client saw %d %s (%s), truth says %d %s (%s)", c.RequestID, c.Status, c.Class, c.Error, q.Status, q.Class, q.Error)
		}
		st.writes.add(c.EndNS, q.EndNS)
		st.lag.add(q.ArrivalNS, c.SendNS)
		if c.Class != truth.ClassOK {
			continue
		}
		if q.PrefillStep == nil || q.FirstScheduledNS < q.ArrivalNS || q.PrefillStartNS < q.FirstScheduledNS || q.FirstTokenNS < q.PrefillStartNS {
			t.Fatalf("%s: truth phases %+v", c.RequestID, q)
		}
		if s, ok := stepByIndex[*q.PrefillStep]; !ok || !slices.Contains(s.Requests, q.ID) || q.FirstTokenNS < s.EndNS {
			t.Fatalf("%s: prefill step %d does not hold it (or ends after its first token)", c.RequestID, *q.PrefillStep)
		}
		if inSteps[q.ID] != q.CompletionTokens || c.Tokens != q.CompletionTokens {
			t.Fatalf("%s: %d steps hold it, truth says %d tokens, the client got %d", c.RequestID, inSteps[q.ID], q.CompletionTokens, c.Tokens)
		}
		st.ttft.add(c.FirstTokenNS-c.SendNS, q.FirstTokenNS-q.ArrivalNS)
		if !c.Stream {
			continue
		}
		if len(c.TokenNS) != len(q.TokenNS) || c.UsageTokens != len(q.TokenNS) {
			t.Fatalf("%s: client read %d tokens (usage %d), truth wrote %d", c.RequestID, len(c.TokenNS), c.UsageTokens, len(q.TokenNS))
		}
		for i := range c.TokenNS {
			st.writes.add(c.TokenNS[i], q.TokenNS[i])
		}
	}
	for _, cl := range []string{truth.ClassOK, truth.ClassAborted, truth.ClassContextLength, truth.ClassRateLimited} {
		if classes[cl] == 0 {
			t.Errorf("no request of class %s: %v", cl, classes)
		}
	}
	if lateAborts > classes[truth.ClassAborted]/2 {
		t.Errorf("%d of %d client aborts came after the server's end", lateAborts, classes[truth.ClassAborted])
	}
	return st
}
