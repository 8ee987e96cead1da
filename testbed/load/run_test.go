package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// stub is a net/http server speaking just enough of the OpenAI API for the client: a
// second implementation of the wire format, with its own write times.
type stub struct {
	mu      sync.Mutex
	writes  map[string][]uint64 // per X-Request-Id: after each content event's flush
	aborted map[string]bool
	gap     time.Duration
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Prompt       string `json:"prompt"`
		Messages     []struct{ Content string }
		MaxTokens    int  `json:"max_tokens"`
		Stream       bool `json:"stream"`
		PromptTokens int  `json:"prompt_tokens"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rid := r.Header.Get("X-Request-Id")
	n := in.PromptTokens + len(strings.Fields(in.Prompt))
	for _, m := range in.Messages {
		n += len(strings.Fields(m.Content))
	}
	w.Header().Set("Content-Type", "application/json")
	if n+in.MaxTokens > 1024 {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"object":"error","message":"This model's maximum context length is 1024 tokens. However, you requested %d tokens.","type":"BadRequestError","param":null,"code":400}`, n+in.MaxTokens)
		return
	}
	id := "cmpl-" + rid
	if !in.Stream {
		time.Sleep(time.Duration(in.MaxTokens) * s.gap)
		fmt.Fprintf(w, `{"id":%q,"object":"text_completion","choices":[{"index":0,"text":"x"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, id, n, in.MaxTokens, n+in.MaxTokens)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	w.WriteHeader(200)
	fl.Flush()
	for i := range in.MaxTokens {
		select {
		case <-r.Context().Done():
			s.mu.Lock()
			s.aborted[rid] = true
			s.mu.Unlock()
			return
		case <-time.After(s.gap):
		}
		fmt.Fprintf(w, "data: {\"id\":%q,\"choices\":[{\"index\":0,\"text\":\" w%d\",\"finish_reason\":null}]}\n\n", id, i)
		fl.Flush()
		now := truth.Now()
		s.mu.Lock()
		s.writes[rid] = append(s.writes[rid], now)
		s.mu.Unlock()
	}
	fmt.Fprintf(w, "data: {\"id\":%q,\"choices\":[],\"usage\":{\"completion_tokens\":%d}}\n\ndata: [DONE]\n\n", id, in.MaxTokens)
}

// startStub serves the stub; idle > 0 closes keep-alive connections idle that long.
func startStub(t *testing.T, idle time.Duration) (*stub, *httptest.Server) {
	s := &stub{writes: map[string][]uint64{}, aborted: map[string]bool{}, gap: time.Millisecond}
	srv := httptest.NewUnstartedServer(s)
	srv.Config.IdleTimeout = idle
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv
}

func records(t *testing.T, b []byte) map[string]Record {
	t.Helper()
	out := map[string]Record{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[r.RequestID]; dup {
			t.Fatalf("request %s recorded twice", r.RequestID)
		}
		out[r.RequestID] = r
	}
	return out
}

func TestRunAgainstStub(t *testing.T) {
	st, srv := startStub(t, 0)
	c := baseConfig()
	c.URL, c.Rate, c.Requests, c.MaxTokens, c.IncludeUsage = srv.URL, 400, 120, mustDist("2:12"), true
	c.AbortAfter = mustDist("1:3")
	c.Bursts = []Burst{{N: 10, At: 100 * time.Millisecond}}
	var out bytes.Buffer
	sum, err := Run(context.Background(), c, &out)
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, out.Bytes())
	if len(recs) != 130 || sum.Requests != 130 || sum.ClientErrs != 0 {
		t.Fatalf("%d records, summary %v", len(recs), sum)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	var classes = map[string]int{}
	for rid, r := range recs {
		classes[r.Class]++
		if r.SendNS < r.SchedNS || r.EndNS < r.SendNS {
			t.Fatalf("%s: times %+v", rid, r)
		}
		switch r.Class {
		case truth.ClassContextLength:
			if r.Status != 400 || r.PromptTokens != 1024 {
				t.Fatalf("%s: %+v", rid, r)
			}
			continue
		case truth.ClassAborted:
			if !r.Aborted || !r.Stream || r.Tokens < 1 || r.Tokens > 3 || r.Tokens >= r.MaxTokens {
				t.Fatalf("%s: aborted %+v", rid, r)
			}
			continue
		case truth.ClassOK:
		default:
			t.Fatalf("%s: class %s (%s)", rid, r.Class, r.Error)
		}
		if !strings.HasSuffix(r.ID, rid) || r.UsageTokens != r.MaxTokens {
			t.Fatalf("%s: id %q usage %d of %d", rid, r.ID, r.UsageTokens, r.MaxTokens)
		}
		if !r.Stream {
			if r.FirstTokenNS != r.EndNS || r.Tokens != r.MaxTokens {
				t.Fatalf("%s: non-streamed %+v", rid, r)
			}
			continue
		}
		w := st.writes[rid]
		if len(r.TokenNS) != r.MaxTokens || len(w) != r.MaxTokens || r.FirstTokenNS != r.TokenNS[0] {
			t.Fatalf("%s: %d client tokens, %d server writes, %d asked", rid, len(r.TokenNS), len(w), r.MaxTokens)
		}
		for i := range w {
			// The client reads each event after the server wrote it. The stub takes its
			// time after Flush returns and shares two CPUs with the client: only a gross
			// error (another clock, a token out of place) fails this.
			if d := int64(r.TokenNS[i]) - int64(w[i]); d < -100_000_000 || d > 100_000_000 {
				t.Fatalf("%s: token %d read %dns after its write", rid, i, d)
			}
			if i > 0 && r.TokenNS[i] < r.TokenNS[i-1] {
				t.Fatalf("%s: token %d read before token %d", rid, i, i-1)
			}
		}
	}
	if classes[truth.ClassAborted] == 0 || classes[truth.ClassContextLength] == 0 || classes[truth.ClassOK] < 80 {
		t.Fatalf("classes %v", classes)
	}
	// Every abort the server saw is one the client made (the others came too late:
	// the stub had written its last token).
	for rid := range st.aborted {
		if !recs[rid].Aborted {
			t.Fatalf("server saw %s aborted: %+v", rid, recs[rid])
		}
	}
	if len(st.aborted) == 0 {
		t.Fatal("the server saw no abort")
	}
}

// A keep-alive connection the server closed while idle is retried once on a new one.
func TestStaleConnectionRetried(t *testing.T) {
	_, srv := startStub(t, 10*time.Millisecond)
	c := baseConfig()
	c.URL, c.Rate, c.Requests, c.StreamFrac, c.AbortFrac, c.OverlongFrac = srv.URL, 25, 8, 0.5, 0, 0
	c.MaxTokens = mustDist("2")
	var out bytes.Buffer
	sum, err := Run(context.Background(), c, &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ByClass[truth.ClassOK] != 8 || sum.Retries < 4 {
		t.Fatalf("summary %v: %s", sum, out.String())
	}
}

// A server that never answers cannot hold the run past its schedule plus Timeout.
func TestHardStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept, read, never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	c := baseConfig()
	c.URL, c.Rate, c.Requests, c.Concurrency, c.Timeout = "http://"+ln.Addr().String(), 100, 10, 2, 300*time.Millisecond
	start := time.Now()
	var out bytes.Buffer
	sum, err := Run(context.Background(), c, &out)
	if err != nil {
		t.Fatal(err)
	}
	// The schedule's last send is at 90ms: the run ends by 390ms (and not before 300ms).
	if d := time.Since(start); d < 300*time.Millisecond || d > 600*time.Millisecond {
		t.Fatalf("run took %v", d)
	}
	// Two slots: the first two time out at 300ms; the rest are sent then and cut off at the
	// stop, or never sent if the stop comes first (which of the two depends on the
	// scheduler): every request is accounted for and none answered.
	if sum.Requests+sum.Unsent != 10 || sum.Requests < 2 || sum.ClientErrs != sum.Requests || sum.ByClass[truth.ClassAborted] != sum.Requests {
		t.Fatalf("summary %v", sum)
	}
}
