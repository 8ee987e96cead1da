package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Summary is what a run did.
type Summary struct {
	Requests   int            // sent (scheduled and burst)
	ByClass    map[string]int // requests per class
	Tokens     int            // content events and non-streamed completion tokens received
	Elapsed    time.Duration  // first send to last end
	MaxLate    time.Duration  // the latest a send left after its scheduled time (waits for a concurrency slot included)
	TTFTp50    time.Duration  // over streamed requests that got a token
	TTFTp99    time.Duration
	ClientErrs int // requests the client saw fail on the wire (no response, broken off, timed out)
	Retries    int // requests sent again on a new connection: the server had closed the idle one
	Unsent     int // planned requests never sent: the run's context ended, or its hard stop came
}

// String is one line for a terminal.
func (s Summary) String() string {
	return fmt.Sprintf("%d requests in %v (sends up to %v behind schedule, concurrency-cap waits included): %v; %d tokens; ttft p50 %v p99 %v; %d failed on the wire, %d retried on a new connection, %d not sent",
		s.Requests, s.Elapsed.Round(time.Millisecond), s.MaxLate.Round(time.Microsecond), s.ByClass, s.Tokens,
		s.TTFTp50.Round(10*time.Microsecond), s.TTFTp99.Round(10*time.Microsecond), s.ClientErrs, s.Retries, s.Unsent)
}

// Run sends the planned requests and writes one Record per request to out as JSON
// lines (in completion order). It returns once every request sent has ended, and never
// later than Timeout after the schedule's last send: requests still held by the
// concurrency cap then are not sent (Summary.Unsent), and requests still open are cut
// off. ctx ending stops new sends.
func Run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	hostport, base, err := cfg.validate()
	if err != nil {
		return Summary{}, err
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "load-" + strconv.FormatUint(uint64(os.Getpid()), 16) + "-" + strconv.FormatInt(time.Now().UnixNano()&0xffffff, 16)
	}
	r := &runner{cfg: cfg, pool: &pool{addr: hostport}, base: base, host: hostport}
	defer r.pool.close()
	plan := cfg.plan()
	results := make(chan Record, 256)
	var last time.Duration
	if len(plan) > 0 {
		last = plan[len(plan)-1].at
	}
	r.hardStop = time.Now().Add(last + cfg.Timeout)
	ctx, cancel := context.WithDeadline(ctx, r.hardStop)
	defer cancel()
	var sum Summary
	var werr error
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		sum, werr = summarize(results, out)
	}()
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	start := truth.Now()
	var maxLate time.Duration
	sent := 0
sending:
	for _, p := range plan {
		due := start + uint64(p.at)
		if now := truth.Now(); now < due {
			select {
			case <-time.After(time.Duration(due - now)):
			case <-ctx.Done():
				break sending
			}
		}
		if !p.burst {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break sending
			}
		}
		maxLate = max(maxLate, time.Duration(truth.Now()-due))
		sent++
		wg.Add(1)
		go func(p planned) {
			defer wg.Done()
			rec := r.do(p, due)
			if !p.burst {
				<-sem
			}
			results <- rec
		}(p)
	}
	wg.Wait()
	close(results)
	<-wdone
	sum.MaxLate = maxLate
	sum.Retries = int(r.retries.Load())
	sum.Unsent = len(plan) - sent
	return sum, werr
}

// summarize writes each record and tallies the run.
func summarize(results <-chan Record, out io.Writer) (Summary, error) {
	bw := bufio.NewWriter(out)
	enc := json.NewEncoder(bw)
	s := Summary{ByClass: map[string]int{}}
	var ttfts []time.Duration
	var first, last uint64
	var err error
	for rec := range results {
		if err == nil {
			err = enc.Encode(&rec)
		}
		s.Requests++
		s.ByClass[rec.Class]++
		s.Tokens += rec.Tokens
		if strings.HasPrefix(rec.Error, clientPrefix) {
			s.ClientErrs++
		}
		if rec.Stream && rec.FirstTokenNS != 0 {
			ttfts = append(ttfts, rec.TTFT())
		}
		if first == 0 || rec.SendNS < first {
			first = rec.SendNS
		}
		last = max(last, rec.EndNS)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		err = fmt.Errorf("write records: %w", err)
	}
	if last > first {
		s.Elapsed = time.Duration(last - first)
	}
	slices.Sort(ttfts)
	if n := len(ttfts); n > 0 {
		s.TTFTp50, s.TTFTp99 = ttfts[n/2], ttfts[min(n-1, n*99/100)]
	}
	return s, err
}

type runner struct {
	retries  atomic.Int64
	hardStop time.Time // no request outlives it
	cfg      Config
	pool     *pool
	base     string
	host     string
}

// do runs one request to its end.
func (r *runner) do(p planned, due uint64) (rec Record) {
	path := r.base + "/v1/completions"
	if p.chat {
		path = r.base + "/v1/chat/completions"
	}
	rec = Record{RequestID: r.cfg.IDPrefix + "-" + strconv.Itoa(p.n), Path: path, Stream: p.stream,
		Burst: p.burst, PromptTokens: p.prompt, MaxTokens: p.maxTokens, SchedNS: due}
	body := r.cfg.body(p)
	req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + r.host + "\r\nContent-Type: application/json\r\nAccept: */*\r\nX-Request-Id: " +
		rec.RequestID + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	req = append(req, body...)
	deadline := time.Now().Add(r.cfg.Timeout)
	if deadline.After(r.hardStop) {
		deadline = r.hardStop
	}
	failed := false
	defer func() { classify(&rec, failed) }()
	for attempt := 0; ; attempt++ {
		cc, reused, err := r.pool.get()
		if err != nil {
			rec.Error, rec.EndNS = err.Error(), truth.Now()
			return rec
		}
		cc.c.SetDeadline(deadline)
		cc.buf, cc.got = cc.buf[:0], 0
		rec.SendNS = truth.Now()
		_, err = cc.c.Write(req)
		var h head
		if err == nil {
			h, err = cc.readHead()
		}
		if err != nil && reused && attempt == 0 && (errors.Is(err, errStale) || cc.got == 0) {
			cc.c.Close() // a keep-alive connection the server had closed: once more on a new one
			r.retries.Add(1)
			continue
		}
		if err != nil {
			cc.c.Close()
			rec.Error, rec.EndNS = clientErr(err), truth.Now()
			return rec
		}
		rec.Status = h.status
		if h.sse && h.status == 200 {
			s := &sse{rec: &rec, abortAfter: p.abortAfter}
			if p.abortAfter == 0 {
				err = errStopped
			} else {
				err = cc.body(h, func(b []byte) bool { return s.feed(b, cc.lastNS) })
			}
			failed = s.failed
			if errors.Is(err, errStopped) {
				cc.c.Close()
				rec.EndNS, rec.Aborted = truth.Now(), true
				return rec
			}
			if err == nil && !s.done {
				rec.Error, failed = "stream ended without [DONE]", true
			}
		} else {
			var data []byte
			err = cc.body(h, func(b []byte) bool { data = append(data, b...); return true })
			if err == nil {
				var e event
				if jerr := json.Unmarshal(data, &e); jerr != nil && h.status == 200 {
					rec.Error, failed = "bad response body: "+jerr.Error(), true
				}
				rec.ID, rec.Error = e.ID, e.Message
				if e.Usage != nil {
					rec.UsageTokens, rec.Tokens = e.Usage.CompletionTokens, e.Usage.CompletionTokens
				}
				if h.status == 200 {
					rec.FirstTokenNS = cc.lastNS
				}
			}
		}
		if err != nil { // the response broke off: a server error as the client saw it
			cc.c.Close()
			rec.Error, rec.EndNS, failed = clientErr(err), truth.Now(), true
			return rec
		}
		rec.EndNS = cc.lastNS
		if h.close || len(cc.buf) > 0 {
			cc.c.Close()
		} else {
			r.pool.put(cc)
		}
		return rec
	}
}

// clientPrefix starts the error of a request that failed on the client's side.
const clientPrefix = "client: "

func clientErr(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = errTimeout
	}
	return clientPrefix + err.Error()
}
