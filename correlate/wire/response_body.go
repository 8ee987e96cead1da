package wire

// The end of a response and its body: the SSE events or the collected body folded into
// the Response, progress events, and the routing of de-framed bytes.

// finish ends the current response: what its body said, its progress, RespEnd.
func (p *ResponseParser) finish() {
	r := p.cur
	r.BodyLen = p.fr.moved
	switch p.mode {
	case bodySSE:
		p.sse.end()
		p.drainSSE()
	case bodyCollect:
		var tail []byte
		if !p.col.whole() {
			tail = p.col.tail
		}
		b := ParseBody(p.col.head, tail, r.Status)
		if r.ID == "" {
			r.ID = b.ID
		}
		r.Usage.merge(b.Usage)
		r.Error = r.Error || b.Error
		if r.Message == "" {
			r.Message = b.Message
		}
		r.ContextLength = r.ContextLength || b.ContextLength
	}
	p.flushProgress()
	p.evs = append(p.evs, RespEvent{Kind: RespEnd, Resp: r})
	p.cur, p.st, p.interim, p.mode = nil, rsStart, 0, bodyDiscard
	p.fr = framer{}
	p.line.reset()
}

// lose gives up on the current response and waits for a fragment that starts with a
// status line. A response whose head was parsed is ended as lost.
func (p *ResponseParser) lose(err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
	if r := p.cur; r != nil {
		r.Degraded, r.Lost = true, true
		if p.st == rsHeaders {
			p.evs = append(p.evs, RespEvent{Kind: RespHead, Resp: r})
		}
		p.st = rsBody
		p.finish()
	}
	p.st = rsLost
	p.line.reset()
}

// drainSSE folds the events the SSE parser completed into the current response.
func (p *ResponseParser) drainSSE() {
	r := p.cur
	for i := range p.sse.events {
		ev := &p.sse.events[i]
		r.Events++
		p.prog.Resp = r
		switch ev.Kind {
		case EventContent:
			r.ContentEvents++
			p.prog.Content++
		case EventDone:
			r.Done, p.prog.Done = true, true
		case EventError:
			r.Error, p.prog.Error = true, true
			if r.Message == "" {
				r.Message = ev.Message
			}
			r.ContextLength = r.ContextLength || ev.ContextLength
		}
		if r.ID == "" && ev.ID != "" {
			r.ID = ev.ID
		}
		r.Usage.merge(ev.Usage)
		r.Degraded = r.Degraded || ev.Truncated && ev.Kind == EventOther
	}
	p.sse.events = p.sse.events[:0]
}

func (p *ResponseParser) flushProgress() {
	if p.prog.Resp == nil {
		return
	}
	p.prog.Kind = RespProgress
	p.evs = append(p.evs, p.prog)
	p.prog = RespEvent{}
}

// respSink routes de-framed body bytes to the SSE parser or the collector.
type respSink ResponseParser

func (s *respSink) write(b []byte) {
	p := (*ResponseParser)(s)
	switch p.mode {
	case bodySSE:
		p.sse.write(b)
		p.drainSSE()
	case bodyCollect:
		p.col.write(b)
	}
}

func (s *respSink) skip(n int64) {
	p := (*ResponseParser)(s)
	switch p.mode {
	case bodySSE:
		p.sse.skip(n)
		p.cur.Degraded = true
		p.drainSSE()
	case bodyCollect:
		p.col.skip(n)
	}
}

// release drops buffers held for the connection.
func (p *ResponseParser) release() {
	p.line.release()
	p.col.release()
	p.sse.release()
	p.evs = nil
}
