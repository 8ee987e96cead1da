package engine

import (
	"fmt"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// SchedConfig is what the scheduler enforces.
type SchedConfig struct {
	MaxNumSeqs          int  // most requests running at once
	MaxNumBatchedTokens int  // token budget of one step
	MaxWaiting          int  // most requests waiting; an add past it gets 429 (0: no limit)
	MaxModelLen         int  // prompt + max_tokens limit; past it an add gets 400
	ChunkedPrefill      bool // split prompts across steps to fill the budget
}

func (c SchedConfig) validate() error {
	switch {
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("max-num-seqs %d: want at least 1", c.MaxNumSeqs)
	case c.MaxNumBatchedTokens < c.MaxNumSeqs:
		return fmt.Errorf("max-num-batched-tokens %d below max-num-seqs %d", c.MaxNumBatchedTokens, c.MaxNumSeqs)
	case c.MaxWaiting < 0:
		return fmt.Errorf("max-waiting %d: want 0 (no limit) or more", c.MaxWaiting)
	case c.MaxModelLen < 2:
		return fmt.Errorf("max-model-len %d: want at least 2", c.MaxModelLen)
	case !c.ChunkedPrefill && c.MaxNumBatchedTokens < c.MaxModelLen:
		// vLLM refuses this too: a prompt longer than the budget could never be scheduled.
		return fmt.Errorf("max-num-batched-tokens %d is below max-model-len %d: raise it or enable chunked prefill",
			c.MaxNumBatchedTokens, c.MaxModelLen)
	}
	return nil
}

// request is one admitted request as the scheduler tracks it.
type request struct {
	id           string
	prompt       int    // prompt tokens
	maxTokens    int    // output tokens to generate
	arrivalNS    uint64 // as the front end read it
	computed     int    // prompt tokens whose KV is computed
	output       int    // tokens generated so far
	scheduledNS  uint64 // first scheduled, 0 before
	prefillStart uint64 // start of its first prefill step, 0 before
	fault        bool   // fails (500) when first scheduled: the request-level fault knob
}

func (r *request) prefilling() bool { return r.computed < r.prompt }

// entry is one request's share of a step.
type entry struct {
	req     *request
	tokens  int  // tokens processed for it this step
	prefill bool // prompt tokens (a whole prompt or a chunk), else one decode token
}

// plan is one step as scheduled.
type plan struct {
	entries       []entry
	prefillTokens int
	decodeTokens  int
	failed        []*request // requests dropped by the fault knob while scheduling
}

func (p *plan) tokens() int { return p.prefillTokens + p.decodeTokens }

// kind is "prefill", "decode" or "mixed", by the tokens the step processes.
func (p *plan) kind() string {
	switch {
	case p.decodeTokens == 0:
		return "prefill"
	case p.prefillTokens == 0:
		return "decode"
	}
	return "mixed"
}

// Scheduler is vLLM V1's continuous-batching policy, without the GPU: a FCFS waiting
// queue and a running set; each step gives every running request what it needs (one
// decode token, or the rest of its prompt) and then admits waiting requests while the
// token budget and max-num-seqs allow. Not safe for concurrent use.
type Scheduler struct {
	cfg     SchedConfig
	waiting []*request // FCFS
	running []*request // in admission order
	byID    map[string]*request
	cur     plan // reused between steps
}

// NewScheduler checks cfg and returns an empty scheduler.
func NewScheduler(cfg SchedConfig) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, byID: make(map[string]*request)}, nil
}

// Add admits a request to the waiting queue, or returns the HTTP status and message of
// its rejection: 400 for bad sizes or a context too long, 409 for a duplicate id, 429
// when the waiting queue is full. fault marks it to fail with 500 when first scheduled.
func (s *Scheduler) Add(a proto.Add, fault bool) (int, string) {
	switch {
	case a.ID == "":
		return 400, "request id is empty"
	case a.PromptTokens < 1:
		return 400, fmt.Sprintf("prompt_tokens %d: want at least 1", a.PromptTokens)
	case a.MaxTokens < 1:
		return 400, fmt.Sprintf("max_tokens %d: want at least 1", a.MaxTokens)
	case a.PromptTokens+a.MaxTokens > s.cfg.MaxModelLen:
		return 400, ContextLengthMessage(s.cfg.MaxModelLen, a.PromptTokens, a.MaxTokens)
	}
	if _, dup := s.byID[a.ID]; dup {
		return 409, fmt.Sprintf("request id %q is already in the engine", a.ID)
	}
	if s.cfg.MaxWaiting > 0 && len(s.waiting) >= s.cfg.MaxWaiting {
		return 429, fmt.Sprintf("the waiting queue is full (%d requests)", s.cfg.MaxWaiting)
	}
	r := &request{id: a.ID, prompt: a.PromptTokens, maxTokens: a.MaxTokens, arrivalNS: a.ArrivalNS, fault: fault}
	s.waiting = append(s.waiting, r)
	s.byID[a.ID] = r
	return 0, ""
}

// ContextLengthMessage is the 400 message vLLM's OpenAI server sends when prompt plus
// max_tokens exceed the model's context.
func ContextLengthMessage(maxLen, prompt, maxTokens int) string {
	return fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens "+
		"(%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
		maxLen, prompt+maxTokens, prompt, maxTokens)
}

// Abort frees a request wherever it is. It is called between steps (the engine drains
// its inbox at step boundaries), so the request is in no step in flight. False when the
// request is unknown (finished already, or never admitted).
func (s *Scheduler) Abort(id string) bool {
	r, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	s.waiting = removeReq(s.waiting, r)
	s.running = removeReq(s.running, r)
	return true
}

func removeReq(list []*request, r *request) []*request {
	for i, x := range list {
		if x == r {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// Waiting and Running count the requests in each state.
func (s *Scheduler) Waiting() int { return len(s.waiting) }
func (s *Scheduler) Running() int { return len(s.running) }

// Idle says whether there is nothing to schedule.
func (s *Scheduler) Idle() bool { return len(s.waiting) == 0 && len(s.running) == 0 }

// schedule builds the next step. nowNS stamps requests scheduled for the first time.
// The plan is valid until the next call; it may have no entries (only failed ones).
func (s *Scheduler) schedule(nowNS uint64) *plan {
	p := &s.cur
	p.entries, p.failed = p.entries[:0], p.failed[:0]
	p.prefillTokens, p.decodeTokens = 0, 0
	budget := s.cfg.MaxNumBatchedTokens

	// Running requests first: a decode token each, or the next chunk of a prompt.
	for _, r := range s.running {
		if budget == 0 {
			break
		}
		if r.prefilling() {
			n := min(r.prompt-r.computed, budget)
			p.entries = append(p.entries, entry{req: r, tokens: n, prefill: true})
			p.prefillTokens += n
			budget -= n
			continue
		}
		p.entries = append(p.entries, entry{req: r, tokens: 1})
		p.decodeTokens++
		budget--
	}

	// Then waiting requests, first come first served, while a slot and budget remain.
	for len(s.waiting) > 0 && len(s.running) < s.cfg.MaxNumSeqs && budget > 0 {
		r := s.waiting[0]
		n := r.prompt
		if n > budget {
			if !s.cfg.ChunkedPrefill {
				break // the head does not fit: wait for the next step, as vLLM does
			}
			n = budget
		}
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		if r.fault {
			delete(s.byID, r.id)
			p.failed = append(p.failed, r)
			continue
		}
		r.scheduledNS = nowNS
		s.running = append(s.running, r)
		p.entries = append(p.entries, entry{req: r, tokens: n, prefill: true})
		p.prefillTokens += n
		budget -= n
	}
	return p
}

// complete applies a step that ran: prompt chunks are computed, every request whose
// prompt is done gets a token, and those at max_tokens finish and are freed. It returns
// the tokens in step order, appended to out.
func (s *Scheduler) complete(p *plan, startNS uint64, out []proto.Token) []proto.Token {
	for _, e := range p.entries {
		r := e.req
		if e.prefill {
			if r.prefillStart == 0 {
				r.prefillStart = startNS
			}
			r.computed += e.tokens
			if r.prefilling() {
				continue // a chunk: no token until the prompt is done
			}
		}
		t := proto.Token{ID: r.id, Index: r.output, Text: tokenText(r.id, r.output)}
		if r.output == 0 {
			t.ScheduledNS, t.PrefillStartNS = r.scheduledNS, r.prefillStart
		}
		r.output++
		if r.output >= r.maxTokens {
			t.Finished, t.Reason, t.PromptTokens = true, "length", r.prompt
			s.finish(r)
		}
		out = append(out, t)
	}
	return out
}

// finish frees a request that is done.
func (s *Scheduler) finish(r *request) {
	delete(s.byID, r.id)
	s.running = removeReq(s.running, r)
}

// fail frees every request of a step that failed and returns their ids.
func (s *Scheduler) fail(p *plan) []string {
	ids := make([]string, 0, len(p.entries))
	for _, e := range p.entries {
		if _, ok := s.byID[e.req.id]; ok {
			ids = append(ids, e.req.id)
			s.finish(e.req)
		}
	}
	return ids
}

// failAll frees every request, running first then waiting, and returns their ids.
func (s *Scheduler) failAll() []string {
	ids := make([]string, 0, len(s.running)+len(s.waiting))
	for _, r := range s.running {
		ids = append(ids, r.id)
	}
	for _, r := range s.waiting {
		ids = append(ids, r.id)
	}
	s.running, s.waiting = s.running[:0], s.waiting[:0]
	clear(s.byID)
	return ids
}
