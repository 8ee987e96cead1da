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
	// ClassServerClosed: the server side ended the connection (it closed it, or its
	// process exited or was killed) before the response was complete.
	ClassServerClosed = "server_closed"
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
	case x.End == wire.EndLocalClose || x.End == wire.EndServerGone:
		// The server closed the connection, or its process died, before the end.
		return ClassServerClosed
	case x.Partial && x.Status == 0 && !x.Error:
		return ClassOK // joined mid-stream: its head (and status) came before the attach
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
		Stream: x.Stream, EndNS: x.EndNS, Degraded: x.Degraded}
	if r.ID == "" {
		r.ID = c.nextID()
	}
	if x.Status != 0 {
		r.Status = ptr(x.Status)
	}
	if x.Partial {
		return c.partialRequest(u, x, r)
	}
	r.ArrivalNS = ptr(x.ArrivalNS)
	if x.EndNS >= x.ArrivalNS {
		r.E2E = ptr(seconds(x.EndNS - x.ArrivalNS))
	}
	n, from := outputTokens(x)
	r.TokensFrom = from
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
		ks := tokenSteps(u, x.ContentWrites)
		prefill = ks[0]
		addTokens(u, ks, prefill)
		if r.Class == ClassAborted {
			// The engine kept generating for it until the abort reached it: it was in
			// every step after its last token that started before the client left.
			for j := ks[len(ks)-1] + 1; j < len(u.steps) && u.steps[j].s.StartNS < x.EndNS; j++ {
				u.steps[j].batch++
				u.steps[j].decodes++
			}
		}
		r.ITL = gaps(x.ContentWrites)
	default:
		prefill = firstStep(u, x, n)
		if prefill < 0 {
			break
		}
		// Not streamed: its n tokens came from the n steps from its prefill step on.
		for j := prefill; j < prefill+n; j++ {
			u.steps[j].batch++
			if j != prefill {
				u.steps[j].decodes++
			}
		}
		first = u.steps[prefill].s.EndNS
		r.Estimated = true
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
		start := u.steps[prefill].s.StartNS
		if c.opt.ChunkedPrefill {
			start = u.steps[c.chunkedStart(u, x, prefill, valueOr(r.PromptTokens, 0))].s.StartNS
		}
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
	} else {
		if first != 0 {
			c.stats.Unattributed++
		}
		if c.opt.ChunkedPrefill && r.Class == ClassAborted {
			c.chunkedSkip(u, x) // queued or prefilling until the abort
		}
	}
	return r
}

// outputTokens is the count of a response's output tokens and where it comes from
// ("usage" or "events"; "" when neither says).
func outputTokens(x *wire.Exchange) (int, string) {
	switch {
	case x.Usage.Has&wire.HasCompletion != 0:
		return int(x.Usage.Completion), "usage"
	case len(x.ContentWrites) > 0:
		return x.ContentEvents, "events"
	}
	return 0, ""
}

// tokenSteps gives the index in u.steps of the step that produced the token(s) of each
// content write (-1 for a write before every held step). A write carries the tokens of
// the latest step that ended before it. When the front end fell behind and wrote the
// tokens of two steps only after the second ended, both writes follow that step; the
// request ran in the step before too (a running request gets a token every step), and
// had written nothing after it, so the earlier write goes there. Walking back from the
// last write, each write's step is at most the next write's step less one, unless that
// would skip back past the step after the previous write's (a front end that writes a
// step's tokens for a request in several writes, as with speculative decoding).
func tokenSteps(u *unitState, writes []uint64) []int {
	ks := make([]int, len(writes))
	next := len(u.steps)
	for i := len(writes) - 1; i >= 0; i-- {
		k := u.before(writes[i])
		if next-1 < k {
			floor := 0
			if i > 0 {
				floor = u.before(writes[i-1]) + 1
			}
			k = max(next-1, min(floor, k))
		}
		ks[i] = max(k, -1)
		next = k
	}
	return ks
}

// firstStep is the index in u.steps of the step that produced x's first token (-1 when
// none): that of its first content write (tokenSteps), or, for a non-streamed response
// of n tokens, the first of the last n steps that ended before it (one token per step
// while it ran) when they all started after it arrived.
func firstStep(u *unitState, x *wire.Exchange, n int) int {
	switch {
	case len(x.ContentWrites) > 0:
		return tokenSteps(u, x.ContentWrites)[0]
	case !x.Stream && x.Status == 200 && n > 0:
		if k := u.before(x.EndNS) - n + 1; k >= 0 && u.steps[k].s.StartNS >= x.ArrivalNS {
			return k
		}
	}
	return -1
}

// partialRequest fills the record of a request joined in flight: the tokens seen after
// the attach count toward the batch sizes of the steps they came from; everything that
// needs the arrival (or a first token before the attach) stays null.
func (c *Correlator) partialRequest(u *unitState, x *wire.Exchange, r *Request) *Request {
	r.Partial, r.JoinedNS = true, x.JoinedNS
	r.OutputTokens, r.TokensFrom = ptr(x.ContentEvents), "events"
	if x.Usage.Has&wire.HasPrompt != 0 {
		r.PromptTokens = ptr(int(x.Usage.Prompt))
	}
	if len(x.ContentWrites) == 0 {
		return r
	}
	// Joined at its response head (it was queued at the attach), its first content write
	// is its first token: the token, the decode and TPOT are measured; only what needs the
	// arrival stays null.
	fromHead := x.HeadNS != 0 && x.HeadNS == x.JoinedNS
	ks := tokenSteps(u, x.ContentWrites)
	prefill := -1 // joined mid-stream: every token seen is a decode token
	if fromHead {
		prefill = ks[0]
	}
	addTokens(u, ks, prefill)
	if fromHead {
		first := x.ContentWrites[0]
		r.FirstTokenNS = ptr(first)
		if x.EndNS >= first {
			r.Decode = ptr(seconds(x.EndNS - first))
		}
		if n := x.ContentEvents; n > 1 {
			r.TPOT = ptr(seconds(x.ContentWrites[len(x.ContentWrites)-1]-first) / float64(n-1))
		}
		if ks[0] >= 0 {
			r.PrefillStep = ptr(u.steps[ks[0]].s.ID)
		}
	}
	r.ITL = gaps(x.ContentWrites)
	return r
}

// addTokens adds a request's tokens to the batch sizes of the steps they came from (ks,
// from tokenSteps: one step counts once however many writes follow it); those from
// steps other than prefill are decode tokens.
func addTokens(u *unitState, ks []int, prefill int) {
	for i, k := range ks {
		if k < 0 || i > 0 && k == ks[i-1] {
			continue
		}
		u.steps[k].batch++
		if k != prefill {
			u.steps[k].decodes++
		}
	}
}

// gaps is every gap between consecutive writes, seconds (nil for fewer than two).
func gaps(writes []uint64) []float64 {
	if len(writes) < 2 {
		return nil
	}
	out := make([]float64, 0, len(writes)-1)
	for i := 1; i < len(writes); i++ {
		out = append(out, seconds(writes[i]-writes[i-1]))
	}
	return out
}
