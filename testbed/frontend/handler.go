package frontend

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Paths the server answers.
const (
	pathCompletions = "/v1/completions"
	pathChat        = "/v1/chat/completions"
	pathModels      = "/v1/models"
	pathHealth      = "/health"
)

// handle answers one request and writes its truth line. It returns false when the
// connection must close (the client went away or the stream broke).
func (cc *conn) handle(req *request) bool {
	path, _, _ := strings.Cut(req.target, "?")
	rec := &truth.Request{
		Kind: truth.KindRequest, Frontend: "go", PID: cc.s.pid,
		Method: req.method, Path: path, ArrivalNS: req.arrivalNS,
	}
	defer cc.s.record(rec)
	if req.err != nil {
		rec.ID = "req-" + randomHex()
		cc.sendError(req, rec, req.err.status, req.err.msg)
		return false
	}
	switch path {
	case pathCompletions, pathChat:
		if req.method != "POST" {
			rec.ID = "req-" + randomHex()
			return cc.sendError(req, rec, 405, "Method Not Allowed")
		}
		return cc.complete(req, rec, path == pathChat)
	case pathHealth, pathModels:
		rec.ID = "req-" + randomHex()
		if req.method != "GET" && req.method != "HEAD" {
			return cc.sendError(req, rec, 405, "Method Not Allowed")
		}
		body := []byte{}
		ctype := ""
		if path == pathModels {
			body = cc.s.modelsJSON()
			ctype = "application/json"
		}
		if req.method == "HEAD" {
			body = nil
		}
		return cc.finish(rec, 200, "", cc.write2(cc.respond(req, 200, ctype, body)))
	default:
		rec.ID = "req-" + randomHex()
		return cc.sendError(req, rec, 404, "Not Found")
	}
}

// write2 packs a write's two results for finish.
func (cc *conn) write2(ns uint64, err error) writeResult { return writeResult{ns, err} }

type writeResult struct {
	ns  uint64
	err error
}

// finish completes rec after the response's last write.
func (cc *conn) finish(rec *truth.Request, status int, msg string, w writeResult) bool {
	rec.Status, rec.EndNS, rec.Error = status, w.ns, msg
	rec.Class = truth.ClassOf(status, isContextLength(msg))
	if w.err != nil {
		rec.Class = truth.ClassAborted
		return false
	}
	return true
}

func isContextLength(msg string) bool {
	return strings.Contains(msg, "maximum context length")
}

// sendError writes an OpenAI error response.
func (cc *conn) sendError(req *request, rec *truth.Request, status int, msg string) bool {
	w := cc.write2(cc.respond(req, status, "application/json", errorJSON(status, msg)))
	return cc.finish(rec, status, msg, w)
}

func (s *Server) modelsJSON() []byte {
	b := []byte(`{"object":"list","data":[{"id":`)
	b = appendString(b, s.cfg.Model)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, s.started.Unix(), 10)
	b = append(b, `,"owned_by":"vllm","root":`...)
	b = appendString(b, s.cfg.Model)
	b = append(b, `,"parent":null,"max_model_len":`...)
	b = strconv.AppendInt(b, int64(s.cfg.MaxModelLen), 10)
	return append(b, `,"permission":[]}]}`...)
}

// randomHex is 32 random hex digits, as vLLM's random_uuid().
func randomHex() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
