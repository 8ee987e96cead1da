package fakecore

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/testbed/proto"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Options are the fake core's behaviour.
type Options struct {
	Tick       time.Duration // one step per tick while any request runs
	MaxRunning int           // an add past this many running requests is rejected with 429 (0: no limit)
	// FailPrompt fails a request with this many prompt tokens with 500 before its first
	// token; FailAfterPrompt after its first token (0: never).
	FailPrompt      int
	FailAfterPrompt int
	// AbortLog, if set, gets the id of every request an abort freed, one a line.
	AbortLog io.Writer
}

// Core is the fake engine core. Its methods are safe for concurrent use.
type Core struct {
	in  chan proto.Msg
	out chan proto.Msg
	opt Options

	mu      sync.Mutex
	running map[string]*fakeReq
	order   []string
	aborted []string
	step    uint64
	stop    chan struct{}
}

type fakeReq struct {
	add  proto.Add
	done int
}

// New starts a fake core; Close stops it (and closes Out).
func New(opt Options) *Core {
	if opt.Tick <= 0 {
		opt.Tick = time.Millisecond
	}
	f := &Core{in: make(chan proto.Msg, 64), out: make(chan proto.Msg, 64), opt: opt,
		running: map[string]*fakeReq{}, stop: make(chan struct{})}
	go f.loop()
	return f
}

// Send takes a front end's message.
func (f *Core) Send(m proto.Msg) { f.in <- m }

// Out carries steps, rejections and failures; it closes after Close.
func (f *Core) Out() <-chan proto.Msg { return f.out }

// Close stops the core.
func (f *Core) Close() { close(f.stop) }

// Running is the number of requests the core holds.
func (f *Core) Running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.running)
}

// Aborted lists the requests freed by an abort, in order.
func (f *Core) Aborted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.aborted...)
}

func (f *Core) loop() {
	defer close(f.out)
	t := time.NewTicker(f.opt.Tick)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case m := <-f.in:
			f.handle(m)
		case <-t.C:
			if s := f.stepOnce(); s != nil {
				f.out <- proto.Msg{Op: proto.OpStep, Step: s}
			}
		}
	}
}

func (f *Core) handle(m proto.Msg) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch m.Op {
	case proto.OpAdd:
		switch {
		case f.opt.FailPrompt != 0 && m.Add.PromptTokens == f.opt.FailPrompt:
			f.out <- proto.Msg{Op: proto.OpFail, ID: m.ID, Status: 500, Error: "injected fault"}
		case f.opt.MaxRunning > 0 && len(f.running) >= f.opt.MaxRunning:
			f.out <- proto.Msg{Op: proto.OpReject, ID: m.ID, Status: 429,
				Error: fmt.Sprintf("the waiting queue is full (%d requests)", f.opt.MaxRunning)}
		default:
			f.running[m.ID] = &fakeReq{add: *m.Add}
			f.order = append(f.order, m.ID)
		}
	case proto.OpAbort:
		if _, ok := f.running[m.ID]; ok {
			delete(f.running, m.ID)
			f.aborted = append(f.aborted, m.ID)
			if f.opt.AbortLog != nil {
				fmt.Fprintln(f.opt.AbortLog, m.ID)
			}
		}
	}
}

// stepOnce advances every running request by one token.
func (f *Core) stepOnce() *proto.Step {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := truth.Now()
	s := &proto.Step{Index: f.step, StartNS: start, Kind: "decode"}
	keep := f.order[:0]
	for _, id := range f.order {
		r, ok := f.running[id]
		if !ok {
			continue
		}
		if r.done == 1 && f.opt.FailAfterPrompt != 0 && r.add.PromptTokens == f.opt.FailAfterPrompt {
			delete(f.running, id)
			f.out <- proto.Msg{Op: proto.OpFail, ID: id, Status: 500, Error: "injected fault"}
			continue
		}
		t := proto.Token{ID: id, Index: r.done, Text: fmt.Sprintf(" t%d", r.done)}
		if r.done == 0 {
			t.ScheduledNS, t.PrefillStartNS = start, start
			s.Kind = "prefill"
		}
		r.done++
		if r.done == r.add.MaxTokens {
			t.Finished, t.Reason, t.PromptTokens = true, "length", r.add.PromptTokens
			delete(f.running, id)
		} else {
			keep = append(keep, id)
		}
		s.Tokens = append(s.Tokens, t)
	}
	f.order = keep
	if len(s.Tokens) == 0 {
		return nil
	}
	f.step++
	s.EndNS = truth.Now()
	return s
}
