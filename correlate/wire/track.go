package wire

import "github.com/inferprobe/inferprobe/tracer/event"

// What the Tracker does with each connection's parsed requests and responses, and how
// exchanges end.

// route hands a fragment to the parser of its direction.
func (t *Tracker) route(c *conn, fr frag) {
	if (fr.op == event.OpRead) == (c.side == SideServer) {
		t.onRequest(c, fr)
	} else {
		t.onResponse(c, fr)
	}
}

func (t *Tracker) onRequest(c *conn, fr frag) {
	evs, err := c.req.Feed(fr.f)
	if err != nil {
		if !c.req.Started() && !c.resp.Started() {
			t.ignore(c, ProtoBinary)
			return
		}
		t.stats.ParseErrors++
	}
	for _, ev := range evs {
		switch ev.Kind {
		case ReqBegin:
			if len(c.pending) >= t.cfg.MaxPending {
				t.endAll(c, fr.ts, EndLost)
				t.ignore(c, ProtoBinary)
				return
			}
			x := &Exchange{
				Conn: c.id, PID: fr.pid, TID: fr.tid, Side: c.side,
				Family: c.fam, LocalPort: c.lport, RemotePort: c.rport,
				Method: ev.Req.Method, Path: ev.Req.Path, ArrivalNS: fr.ts,
				Stream: isStreamPath(ev.Req.Path), req: ev.Req,
			}
			if ev.Req.StartFragment != c.req.Fragments() && c.lineStart.ts != 0 {
				x.ArrivalNS, x.PID, x.TID = c.lineStart.ts, c.lineStart.pid, c.lineStart.tid
			}
			c.pending = append(c.pending, x)
			c.resp.PushRequest(x.Method)
			if h := t.cfg.Hooks.Arrived; h != nil {
				h(x)
			}
		case ReqEnd:
			for _, x := range c.pending {
				if x.req == ev.Req {
					x.absorbRequest(ev.Req, fr.ts)
					break
				}
			}
		}
	}
	if seq, ok := c.req.PendingStart(); ok && seq == c.req.Fragments() {
		c.lineStart = fr // a request line begins here and goes on in a later fragment
		c.lineStart.f = Fragment{}
	}
}

func (t *Tracker) onResponse(c *conn, fr frag) {
	evs, err := c.resp.Feed(fr.f)
	if err != nil {
		if !c.req.Started() && !c.resp.Started() {
			t.ignore(c, ProtoBinary)
			return
		}
		t.stats.ParseErrors++
		if c.cur != nil {
			c.cur.Degraded = true
		}
	}
	t.respEvents(c, evs, fr.ts, EndComplete)
	if c.cur != nil {
		c.cur.lastNS = fr.ts
	}
}

// respEvents applies what the response parser saw at ts; a response that ends ends with
// reason (unless it was lost).
func (t *Tracker) respEvents(c *conn, evs []RespEvent, ts uint64, reason EndReason) {
	for _, ev := range evs {
		switch ev.Kind {
		case RespHead:
			c.cur = nil
			if len(c.pending) > 0 && c.pending[0].resp != nil { // its end was never seen
				t.end(c, c.pending[0], max(c.pending[0].lastNS, c.pending[0].HeadNS), EndLost)
			}
			if len(c.pending) == 0 && c.hint == SideUnknown && c.side == SideServer && !c.req.Started() {
				// Opened before the attach, its request read before it (it was queued):
				// its response begins now.
				t.partial(c, frag{ts: ts, pid: c.pid})
			}
			if len(c.pending) == 0 {
				t.stats.Orphans++
				continue
			}
			x := c.pending[0]
			c.cur, x.resp = x, ev.Resp
			x.Status, x.HeadNS, x.SSE = ev.Resp.Status, ts, ev.Resp.SSE
			x.Stream = x.Stream || ev.Resp.SSE
			x.lastNS = ts
		case RespProgress:
			x := c.cur
			if x == nil || x.resp != ev.Resp {
				continue
			}
			if ev.Content > 0 {
				x.ContentWrites = append(x.ContentWrites, ts)
				x.ContentEvents += ev.Content
				if h := t.cfg.Hooks.FirstContent; h != nil && len(x.ContentWrites) == 1 {
					h(x)
				}
				if h := t.cfg.Hooks.Content; h != nil {
					h(x, ts, ev.Content)
				}
			}
			if ev.Done && x.doneNS == 0 {
				x.doneNS = ts
			}
		case RespEnd:
			x := c.cur
			if x == nil || x.resp != ev.Resp {
				continue
			}
			switch {
			case ev.Resp.Lost:
				t.end(c, x, max(x.lastNS, x.HeadNS), EndLost)
			default:
				t.end(c, x, ts, reason)
			}
			if ev.Resp.Upgrade {
				t.endAll(c, ts, EndLost)
				t.ignore(c, ProtoBinary)
				return
			}
		}
	}
}

// end makes x final and hands it out.
func (t *Tracker) end(c *conn, x *Exchange, ts uint64, reason EndReason) {
	if x.ended {
		return
	}
	x.absorbResponse()
	// The write that completes the response is the last chunk (or the last byte of the
	// body); when the connection ended after [DONE] but before that, [DONE] completed it.
	if x.doneNS != 0 && reason != EndComplete {
		ts, reason = x.doneNS, EndComplete
	}
	x.EndNS, x.End, x.Aborted, x.ended = ts, reason, reason == EndAbort, true
	x.req, x.resp = nil, nil
	for i, p := range c.pending {
		if p == x {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			break
		}
	}
	if c.cur == x {
		c.cur = nil
	}
	t.stats.Exchanges++
	if x.Aborted {
		t.stats.Aborted++
	}
	if x.Degraded {
		t.stats.Degraded++
	}
	if h := t.cfg.Hooks.Ended; h != nil {
		h(x)
	}
	t.out = append(t.out, x)
}

// endAll ends every exchange in flight on c.
func (t *Tracker) endAll(c *conn, ts uint64, reason EndReason) {
	for len(c.pending) > 0 {
		t.end(c, c.pending[0], ts, reason)
	}
}

// gone: the connection died (a failed call) or the client went away.
func (t *Tracker) gone(c *conn, ts uint64, reason EndReason) {
	t.endAll(c, ts, reason)
	t.retire(c)
}

// peerEOF: a read returned end of file.
func (t *Tracker) peerEOF(c *conn, ts uint64) {
	if c.st == cHTTP && c.side == SideClient {
		t.respEvents(c, c.resp.Close(), ts, EndClose)
		t.gone(c, ts, EndPeerClose)
		return
	}
	t.gone(c, ts, EndAbort)
}

// closed: the process closed the connection.
func (t *Tracker) closed(c *conn, e *event.Sock) {
	if c.st != cHTTP {
		return
	}
	if c.side == SideServer {
		t.respEvents(c, c.resp.Close(), e.TS, EndClose)
		t.endAll(c, e.TS, EndLocalClose)
	} else {
		t.endAll(c, e.TS, EndAbort)
	}
	t.retire(c)
}
