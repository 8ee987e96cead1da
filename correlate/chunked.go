package correlate

import (
	"sort"

	"github.com/inferprobe/inferprobe/correlate/wire"
)

// Chunked prefill (Options.ChunkedPrefill). The engine schedules first come, first
// served, as vLLM V1 does: each step it gives every running request its decode token,
// then the rest of the token budget (max-num-batched-tokens) to prompts in the order
// they came, splitting the last one it takes, while sequence slots (max-num-seqs) last.
// A request's prefill therefore starts in the first step, among those scheduled after it
// reached the engine, that has budget and a slot left once every request ahead of it
// has been scheduled whole. What inferprobe sees of that:
//
//   - the predecessor bound: the request ahead was scheduled whole in the step of its
//     first token, so the next starts in that step at the earliest (a request aborted
//     before its first token held its place until the abort; rejected requests never
//     enter the queue);
//   - the arrival bound: the engine takes new requests at step boundaries, so one that
//     arrived while step m ran, or in the host gap after the step before m (the engine
//     drains its inbox as a step ends), starts at m+1 at the earliest; one that arrived
//     while the engine was idle starts in the step it wakes the engine for;
//   - the slot bound: a step that gave tokens to as many requests as the engine runs at
//     once (Options.MaxNumSeqs, else the largest batch size once plateauSteps final steps
//     have had it) had no slot left.
//
// The request starts at the latest of these. When the budget is known (Options.
// MaxNumBatchedTokens) and the response carried usage.prompt_tokens, the start is also
// checked against the token counts, each step giving prompts the budget less its decode
// tokens: a prompt that would have been done before the step of its first token even if
// started one step later started later still (the engine held it back: no KV cache
// space, say), at the latest step from which the budget up to its first token holds it.
//
// The order that matters is the engine's, which shows in the steps of the first tokens
// (a request ahead completes its prefill no later than one behind it): requests are
// placed by the start of that step, then by arrival (finalizeInOrder), each once every
// request that arrived before that step has ended, so the steps' decode counts are
// complete up to its first token. (Requests that reach the engine within one step's
// window can reach it in another order than they arrived at the front end; nothing an
// observer sees tells which, so arrival stands.)

// fcfs is where a unit's chunked-prefill placement stands.
type fcfs struct {
	fromNS uint64 // the next request starts in a step starting at or after this
	busyNS uint64 // the latest end of a placed request: the engine was busy until then
	// aborted are the requests aborted before their first token, which held their place
	// until their end: a request that arrived after one starts after its end.
	aborted []span
	// maxBatch is the largest batch size of the unit's final steps so far, and atMax
	// how many had it: a plateau is the engine's sequence limit (seats).
	maxBatch, atMax int
}

// plateauSteps is how many final steps must have the largest batch size seen before
// that size is taken as the engine's sequence limit, when Options.MaxNumSeqs is unset.
const plateauSteps = 16

// seats is the unit's sequence limit (0: unknown).
func (c *Correlator) seats(u *unitState) int {
	if c.opt.MaxNumSeqs > 0 {
		return c.opt.MaxNumSeqs
	}
	if u.chunk.atMax >= plateauSteps {
		return u.chunk.maxBatch
	}
	return 0
}

// sawStep counts a final step's batch size for the sequence-limit plateau.
func (u *unitState) sawStep(batch int) {
	switch {
	case batch > u.chunk.maxBatch:
		u.chunk.maxBatch, u.chunk.atMax = batch, 1
	case batch == u.chunk.maxBatch:
		u.chunk.atMax++
	}
}

type span struct{ from, to uint64 }

// stepAtOrAfter returns the index of the first step of u starting at or after ts
// (len(u.steps) when none).
func (u *unitState) stepAtOrAfter(ts uint64) int {
	return sort.Search(len(u.steps), func(i int) bool { return u.steps[i].s.StartNS >= ts })
}

// admitStep is the first step that can hold a request that arrived at a (the arrival
// bound above).
func (u *unitState) admitStep(a uint64) int {
	m := sort.Search(len(u.steps), func(i int) bool { return u.steps[i].s.EndNS > a })
	if m == len(u.steps) {
		return m
	}
	if u.steps[m].s.StartNS <= a || u.chunk.busyNS > a {
		return m + 1 // the engine was stepping: it takes the request at the next boundary
	}
	return m
}

// capacity is the prompt budget of step i: the budget less its decode tokens.
func (c *Correlator) capacity(u *unitState, i int) int {
	return max(c.opt.MaxNumBatchedTokens-u.steps[i].decodes, 0)
}

// chunkedStart places the first chunk of request x, whose first token came from step k
// (an index in u.steps); prompt is its prompt length (0: unknown). It returns the index
// of the step its prefill started in and moves the placement on past x.
func (c *Correlator) chunkedStart(u *unitState, x *wire.Exchange, k, prompt int) int {
	st := &u.chunk
	from := st.fromNS
	n := 0
	for _, ab := range st.aborted {
		if ab.from < x.ArrivalNS {
			from = max(from, ab.to)
		}
		if ab.to > st.fromNS { // still later than the predecessor bound: keep
			st.aborted[n] = ab
			n++
		}
	}
	st.aborted = st.aborted[:n]
	lo := max(u.stepAtOrAfter(from), u.admitStep(x.ArrivalNS))
	if seats := c.seats(u); seats > 0 {
		for lo < k && u.steps[lo].batch >= seats {
			lo++ // every sequence slot was taken
		}
	}
	a := min(lo, k)
	if c.opt.MaxNumBatchedTokens > 0 && prompt > 0 && a < k {
		later := 0 // prompt budget of the steps after a, up to the one before k
		for i := a + 1; i < k; i++ {
			later += c.capacity(u, i)
		}
		if prompt <= later {
			// Done before k even if started one step later: it started later still, at the
			// latest step from which the budget up to k holds it.
			sum := 0
			for a = k; a > lo+1; a-- {
				if sum += c.capacity(u, a); sum >= prompt {
					break
				}
			}
		}
	}
	st.fromNS = max(st.fromNS, u.steps[k].s.StartNS)
	st.busyNS = max(st.busyNS, x.EndNS)
	return a
}

// chunkedSkip moves the placement past a request the engine took that produced no
// token: it was aborted while queued or prefilling, and held its place until then.
func (c *Correlator) chunkedSkip(u *unitState, x *wire.Exchange) {
	if x.EndNS > u.chunk.fromNS {
		u.chunk.aborted = append(u.chunk.aborted, span{x.ArrivalNS, x.EndNS})
	}
	u.chunk.busyNS = max(u.chunk.busyNS, x.EndNS)
}

// order is where a request comes in the engine's first-come-first-served order, as far
// as it shows: by the start of the step of its first token (a request aborted before its
// first token: its end; one the engine never took: its arrival), then by arrival.
type order struct {
	ns      uint64 // the step start (or time) above
	arrival uint64
}

func (o order) before(p order) bool {
	if o.ns != p.ns {
		return o.ns < p.ns
	}
	return o.arrival < p.arrival
}

func orderOf(u *unitState, x *wire.Exchange) order {
	o := order{ns: x.ArrivalNS, arrival: x.ArrivalNS}
	n, _ := outputTokens(x)
	if k := firstStep(u, x, n); k >= 0 {
		o.ns = max(x.ArrivalNS, u.steps[k].s.StartNS)
	} else if Classify(x) == ClassAborted {
		o.ns = x.EndNS
	}
	return o
}
