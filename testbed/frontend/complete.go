package frontend

import (
	"strings"
	"time"

	"github.com/inferprobe/inferprobe/testbed/proto"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// complete serves a completion: it validates the request as vLLM's API server does,
// hands it to the core, and writes each token the core produces as it arrives.
func (cc *conn) complete(req *request, rec *truth.Request, chat bool) bool {
	s := cc.s
	prefix := "cmpl-"
	if chat {
		prefix = "chatcmpl-"
	}
	if rid := req.header("x-request-id"); rid != "" {
		rec.RequestID, rec.ID = rid, prefix+rid
	} else {
		rec.ID = prefix + randomHex()
	}
	c, aerr := parseCompletion(req.body, chat, s.cfg.Model, s.cfg.MaxModelLen)
	if aerr != nil {
		return cc.sendError(req, rec, aerr.status, aerr.msg)
	}
	rec.Stream, rec.PromptTokens, rec.MaxTokens = c.stream, c.promptTokens, c.maxTokens
	mb, ok := s.disp.register(rec.ID)
	if !ok {
		return cc.sendError(req, rec, 400, "request id "+rec.ID+" is already in flight")
	}
	defer s.disp.unregister(rec.ID)
	st := &stream{cc: cc, req: req, rec: rec, c: c, resp: response{
		id: rec.ID, chat: chat, created: time.Now().Unix(), model: s.cfg.Model, usage: c.includeUsage,
	}}
	if cc.isClosed() { // the client left while this request waited behind earlier ones
		return st.aborted(cc.closeNS.Load(), false)
	}
	s.core.Send(proto.Msg{Op: proto.OpAdd, ID: rec.ID, Add: &proto.Add{
		ID: rec.ID, PromptTokens: c.promptTokens, MaxTokens: c.maxTokens, ArrivalNS: rec.ArrivalNS,
	}})
	var evs []event
	for {
		select {
		case <-mb.notify:
			evs = mb.take(evs)
			for _, e := range evs {
				if done, keep := st.on(e); done {
					return keep
				}
			}
		case <-cc.closed:
			return st.aborted(cc.closeNS.Load(), true)
		case <-s.disp.done:
			return st.fail(500, ErrCoreStopped.Error())
		}
	}
}

// stream is one completion's response in progress.
type stream struct {
	cc      *conn
	req     *request
	rec     *truth.Request
	c       *completion
	resp    response
	started bool // the status line went out
	text    strings.Builder
	buf     []byte
}

// on handles one core event: done when the response is over, keep when the connection
// can serve another request.
func (st *stream) on(e event) (done, keep bool) {
	switch e.op {
	case proto.OpReject:
		status := e.status
		if status == 0 {
			status = 429
		}
		if !st.started {
			return true, st.cc.sendError(st.req, st.rec, status, e.err)
		}
		return true, st.fail(status, e.err)
	case proto.OpFail:
		status := e.status
		if status == 0 {
			status = 500
		}
		return true, st.fail(status, e.err)
	}
	t := e.tok
	rec := st.rec
	if t.Index == 0 {
		rec.FirstScheduledNS, rec.PrefillStartNS = t.ScheduledNS, t.PrefillStartNS
		step := e.step
		rec.PrefillStep = &step
	}
	rec.CompletionTokens++
	if !st.c.stream {
		st.text.WriteString(t.Text)
		if !t.Finished {
			return false, true
		}
		rec.FinishReason = t.Reason
		st.buf = st.resp.full(st.buf[:0], st.text.String(), t.Reason, st.c.promptTokens, rec.CompletionTokens)
		ns, err := st.cc.respond(st.req, 200, "application/json", st.buf)
		if err != nil {
			return true, st.aborted(ns, false) // the core is done with it
		}
		rec.FirstTokenNS = ns
		return true, st.cc.finish(rec, 200, "", writeResult{ns, nil})
	}
	if !st.started {
		if ns, err := st.start(); err != nil {
			rec.CompletionTokens--
			return true, st.aborted(ns, true)
		}
	}
	reason := ""
	if t.Finished {
		reason = t.Reason
	}
	st.buf = sseChunk(st.buf[:0], st.resp.tokenChunk(nil, t.Text, reason))
	ns, err := st.cc.write(st.buf)
	if err != nil {
		rec.CompletionTokens--
		return true, st.aborted(ns, !t.Finished)
	}
	rec.TokenNS = append(rec.TokenNS, ns)
	if rec.FirstTokenNS == 0 {
		rec.FirstTokenNS = ns
	}
	if !t.Finished {
		return false, true
	}
	rec.FinishReason = t.Reason
	if st.c.includeUsage {
		st.buf = sseChunk(st.buf[:0], st.resp.usageChunk(nil, st.c.promptTokens, rec.CompletionTokens))
		if ns, err := st.cc.write(st.buf); err != nil {
			return true, st.aborted(ns, false)
		}
	}
	return true, st.cc.finish(rec, 200, "", st.cc.write2(st.cc.write([]byte(doneTail))))
}

// start writes a stream's status line and headers, and for chat the role chunk.
func (st *stream) start() (uint64, error) {
	st.started = true
	b := st.cc.statusLine(st.buf[:0], 200, st.req)
	b = append(b, "content-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n"...)
	st.buf = b
	ns, err := st.cc.write(b)
	if err != nil || !st.resp.chat {
		return ns, err
	}
	st.buf = sseChunk(st.buf[:0], st.resp.roleChunk(nil))
	return st.cc.write(st.buf)
}

// fail answers a request the core failed: a 5xx response, or an error event and the
// stream's end when the stream had begun (the status then stays 200, as in vLLM).
func (st *stream) fail(status int, msg string) bool {
	if !st.started {
		return st.cc.sendError(st.req, st.rec, status, msg)
	}
	st.buf = sseChunk(st.buf[:0], errorChunk(nil, status, msg))
	if ns, err := st.cc.write(st.buf); err != nil {
		return st.aborted(ns, false)
	}
	ok := st.cc.finish(st.rec, 200, msg, st.cc.write2(st.cc.write([]byte(doneTail))))
	if ok {
		st.rec.Class = truth.ClassServerError
	}
	return ok
}

// aborted records a request whose client went away at ns, and frees it in the core.
func (st *stream) aborted(ns uint64, inCore bool) bool {
	if inCore {
		st.cc.s.core.Send(proto.Msg{Op: proto.OpAbort, ID: st.rec.ID})
	}
	st.rec.EndNS, st.rec.Class = ns, truth.ClassAborted
	if st.started {
		st.rec.Status = 200
	}
	if !st.c.stream {
		st.rec.CompletionTokens = 0 // generated, never sent
	}
	return false
}
