package correlate

import (
	"github.com/inferprobe/inferprobe/correlate/wire"
)

// Error classes of a request (design.md).
const (
	ClassOK            = "ok"
	ClassRateLimited   = "rate_limited"
	ClassContextLength = "context_length"
	ClassBadRequest    = "bad_request"
	ClassServerError   = "server_error"
	ClassAborted       = "aborted"
)

// Classify gives an exchange's error class.
func Classify(x *wire.Exchange) string {
	switch {
	case x.Aborted:
		return ClassAborted
	case x.Status == 429:
		return ClassRateLimited
	case x.Status >= 400 && x.Status < 500 && x.ContextLength:
		return ClassContextLength
	case x.Status >= 400 && x.Status < 500:
		return ClassBadRequest
	case x.Status >= 500:
		return ClassServerError
	case x.Status == 0 || x.Error:
		// No response at all (the server closed) or an error event inside a 200 stream.
		return ClassServerError
	}
	return ClassOK
}

// request builds the record of a finished outer exchange and adds its tokens to the
// batch sizes of the steps that produced them.
func (c *Correlator) request(u *unitState, x *wire.Exchange) *Request {
	r := &Request{ID: x.ResponseID, Unit: u.name, PID: x.PID, Path: x.Path, Class: Classify(x),
		Stream: x.Stream, ArrivalNS: x.ArrivalNS, EndNS: x.EndNS, Degraded: x.Degraded}
	if r.ID == "" {
		r.ID = c.nextID()
	}
	if x.Status != 0 {
		r.Status = ptr(x.Status)
	}
	if x.EndNS >= x.ArrivalNS {
		r.E2E = seconds(x.EndNS - x.ArrivalNS)
	}
	n := 0
	switch {
	case x.Usage.Has&wire.HasCompletion != 0:
		n, r.TokensFrom = int(x.Usage.Completion), "usage"
	case len(x.ContentWrites) > 0:
		n, r.TokensFrom = x.ContentEvents, "events"
	}
	if r.TokensFrom != "" {
		r.OutputTokens = ptr(n)
	}
	if x.Usage.Has&wire.HasPrompt != 0 {
		r.PromptTokens = ptr(int(x.Usage.Prompt))
	}

	var first uint64 // the first token's time
	prefill := -1    // index in u.steps of the prefill step
	switch {
	case len(x.ContentWrites) > 0:
		first = x.ContentWrites[0]
		last := -1
		for i, w := range x.ContentWrites {
			k := u.before(w)
			if i == 0 {
				prefill = k
			}
			if k >= 0 && k != last {
				u.steps[k].batch++
				last = k
			}
		}
		if len(x.ContentWrites) > 1 {
			r.ITL = make([]float64, 0, len(x.ContentWrites)-1)
			for i := 1; i < len(x.ContentWrites); i++ {
				r.ITL = append(r.ITL, seconds(x.ContentWrites[i]-x.ContentWrites[i-1]))
			}
		}
	case !x.Stream && x.Status == 200 && n > 0:
		// Non-streamed: its n tokens came from the last n steps before the response.
		k := u.before(x.EndNS)
		if k >= 0 && k-n+1 >= 0 && u.steps[k-n+1].s.StartNS >= x.ArrivalNS {
			for j := k - n + 1; j <= k; j++ {
				u.steps[j].batch++
			}
			prefill = k - n + 1
			first = u.steps[prefill].s.EndNS
			r.Estimated = true
		}
	}
	if first != 0 {
		r.FirstTokenNS = ptr(first)
		r.TTFT = ptr(seconds(first - x.ArrivalNS))
		if x.EndNS >= first {
			r.Decode = ptr(seconds(x.EndNS - first))
		}
		if n > 1 && len(x.ContentWrites) > 0 {
			lastW := x.ContentWrites[len(x.ContentWrites)-1]
			r.TPOT = ptr(seconds(lastW-first) / float64(n-1))
		} else if n > 1 && r.Estimated {
			r.TPOT = ptr(seconds(x.EndNS-first) / float64(n-1))
		}
	}
	if prefill >= 0 {
		start := c.prefillStart(u, prefill, x.ArrivalNS)
		r.PrefillStep = ptr(u.steps[prefill].s.ID)
		if start >= x.ArrivalNS {
			r.Queue = ptr(seconds(start - x.ArrivalNS))
		} else {
			r.Queue = ptr(0.0)
			start = x.ArrivalNS
		}
		if first >= start {
			r.Prefill = ptr(seconds(first - start))
		}
	} else if first != 0 {
		c.stats.Unattributed++
	}
	return r
}

// prefillStart is the start of the request's prefill: the start of its prefill step, or
// with Options.ChunkedPrefill of the earliest of the prefill-like steps that run back-to-back
// before it and began after the request arrived (its earlier chunks).
func (c *Correlator) prefillStart(u *unitState, k int, arrival uint64) uint64 {
	start := u.steps[k].s.StartNS
	if !c.opt.ChunkedPrefill || u.steps[k].s.Kind != "prefill" {
		return start
	}
	for j := k - 1; j >= 0; j-- {
		s := u.steps[j].s
		if s.Kind != "prefill" || s.StartNS < arrival {
			break
		}
		start = s.StartNS
	}
	return start
}
