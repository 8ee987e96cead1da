package export

import (
	"fmt"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/tracer/event"
)

const ms = uint64(1e6)

// synth builds a synthetic event stream of one serving unit: an API server (pid 10,
// listening on port 8000) and its engine (pid 11, tid 12 drives the GPU).
type synth struct {
	evs    []event.Event
	engine uint32
}

func newSynth() *synth {
	s := &synth{engine: 11}
	s.evs = append(s.evs,
		&event.Proc{Header: event.Header{TS: 1, PID: 10, TID: 10}, Op: event.ProcFound, Comm: "api", Listen: []string{"tcp:8000"}, StartNS: 1},
		&event.Proc{Header: event.Header{TS: 1, PID: 11, TID: 11}, Op: event.ProcFound, PPID: 10, Comm: "engine", StartNS: 2 * ms})
	return s
}

func (s *synth) sock(ts, conn uint64, op event.SockOp, data string) {
	s.evs = append(s.evs, &event.Sock{Header: event.Header{TS: ts, PID: 10, TID: 10}, Start: ts - 1000, Op: op,
		Conn: conn, FD: int32(conn), Family: event.FamilyInet, LocalPort: 8000, RemotePort: uint16(40000 + conn),
		Ret: int64(len(data)), Data: []byte(data)})
}

func (s *synth) cuda(e event.CUDA) {
	e.PID, e.TID = s.engine, s.engine+1
	if !e.Return {
		e.Start = e.TS
	}
	s.evs = append(s.evs, &e)
}

func (s *synth) alloc(ts, bytes, ptr uint64, result int32) {
	s.cuda(event.CUDA{Header: event.Header{TS: ts}, Call: event.CallMemAlloc, Return: true, Start: ts - 1000, Result: result, Bytes: bytes, Out: ptr})
}

// step: eager launches (3 gemm, 1 attn) or one graph launch at start, and a blocking
// event sync that returns at end.
func (s *synth) step(start, end uint64, graph bool) {
	if graph {
		s.cuda(event.CUDA{Header: event.Header{TS: start}, Call: event.CallGraphLaunch, Handle: 0x900})
	} else {
		for i, k := range []string{"gemm", "gemm", "attn", "gemm"} {
			s.cuda(event.CUDA{Header: event.Header{TS: start + uint64(i)*1000}, Call: event.CallLaunchKernel, Kernel: k, Handle: uint64(0x100 + len(k))})
		}
	}
	s.wait(start+ms/2, end)
}

// wait is a cuEventSynchronize from start to end (in flight when end is 0).
func (s *synth) wait(start, end uint64) {
	s.cuda(event.CUDA{Header: event.Header{TS: start}, Call: event.CallEventSynchronize})
	if end != 0 {
		s.cuda(event.CUDA{Header: event.Header{TS: end}, Call: event.CallEventSynchronize, Return: true, Start: start})
	}
}

func chunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

func sse(id, text string) string {
	return chunk(fmt.Sprintf(`data: {"id":"%s","object":"text_completion","choices":[{"index":0,"text":"%s"}]}`+"\n\n", id, text))
}

func response(status, body string) string {
	return fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
}

const (
	streamReq = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n{\"prompt\":\"hi there\",\"stream\":true,\"n\":1}  "
	plainReq  = "POST /v1/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
)

// unitStream is a short run of one unit (all times in ms):
//   - 1: 1 GiB allocated (startup memory)
//   - A, streamed, arrives at 2: prefill step 3-13, decode steps 14-24 (eager) and 25-35,
//     36-46 (graphs); content written 0.2 after each step; [DONE] at 46.3
//   - B, not streamed, arrives at 13.5, 3 tokens from steps 14-46, answered at 46.4
//   - C gets 429 at 47, D a context-length 400 at 48
//   - 50: 4 KiB allocated (serving memory), 51: an OOM on cuMemAlloc
//   - a wait 52-152 (a stall past the 50 ms threshold), and one in flight from 160 on
//
// The stream is advanced to 1000 ms.
func unitStream() *synth {
	s := newSynth()
	s.alloc(1*ms, 1<<30, 0x7000_0000, 0)
	bounds := [][2]uint64{{3, 13}, {14, 24}, {25, 35}, {36, 46}}
	s.sock(1*ms, 1, event.OpAccept, "")
	s.sock(2*ms, 1, event.OpRead, streamReq)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
	for i, b := range bounds {
		s.step(b[0]*ms, b[1]*ms, i >= 2)
		w := b[1]*ms + 200_000
		if i == 0 {
			s.sock(w, 1, event.OpWrite, head+sse("cmpl-a", "t0"))
			s.sock(13*ms+ms/2, 2, event.OpAccept, "")
			s.sock(13*ms+ms/2+1000, 2, event.OpRead, plainReq)
		} else {
			s.sock(w, 1, event.OpWrite, sse("cmpl-a", fmt.Sprintf("t%d", i)))
		}
	}
	s.sock(46*ms+300_000, 1, event.OpWrite, chunk("data: [DONE]\n\n")+"0\r\n\r\n")
	body := `{"id":"cmpl-b","object":"text_completion","choices":[{"text":"a b c"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`
	s.sock(46*ms+400_000, 2, event.OpWrite, response("200 OK", body))
	s.sock(47*ms, 3, event.OpAccept, "")
	s.sock(47*ms+1000, 3, event.OpRead, plainReq)
	s.sock(47*ms+2000, 3, event.OpWrite, response("429 Too Many Requests", `{"object":"error","message":"too many requests","code":429}`))
	s.sock(48*ms, 4, event.OpAccept, "")
	s.sock(48*ms+1000, 4, event.OpRead, plainReq)
	s.sock(48*ms+2000, 4, event.OpWrite, response("400 Bad Request", `{"object":"error","message":"This model's maximum context length is 2048 tokens.","code":400}`))
	s.alloc(50*ms, 4096, 0x7100_0000, 0)
	s.alloc(51*ms, 1<<40, 0, gpustep.ErrOutOfMemory)
	s.wait(52*ms, 152*ms)
	s.wait(160*ms, 0)
	return s
}

// testOptions settle the synthetic stream after the join grace (250 ms) and stall at 50 ms.
func testOptions() correlate.Options {
	return correlate.Options{Settle: 300 * time.Millisecond, GPU: gpustep.Config{StallAfter: 50 * time.Millisecond}}
}

// run feeds s to a correlator with sink, advancing it to end (ms), and returns it.
func run(t *testing.T, s *synth, sink correlate.Sink, end uint64) *correlate.Correlator {
	t.Helper()
	c, err := correlate.New(testOptions(), sink)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range s.evs {
		c.Feed(e)
	}
	c.Advance(end * ms)
	return c
}

// wall is the wall-clock time of stream time 0 in the tests.
var wall0 = time.Unix(1_800_000_000, 0)

func wallAt(ns uint64) time.Time { return wall0.Add(time.Duration(ns)) }
