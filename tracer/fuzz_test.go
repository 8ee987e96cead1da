package tracer

import (
	"bytes"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// FuzzDecode feeds arbitrary records to Decode: it must never panic, and whatever it
// accepts must be a well-formed event that the stream codec writes.
func FuzzDecode(f *testing.F) {
	for _, b := range [][]byte{
		launchRec(), callRec(event.CallStreamSynchronize, 0, 0), callRec(event.CallMemAlloc, 1, 2),
		nameRec(event.CallModuleGetFunction, "_Z6kernelPf"), nameRec(event.CallLibraryGetKernel, ""),
		sockRec(1, 3, 9000, "POST /v1/completions HTTP/1.1\r\n", "usage"), sockRec(3, 9, 5, "", ""),
		procRec(procProcOpPROC_OP_EXIT, "python3", 256), {}, {1, 0, 0, 0},
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if e != nil {
				t.Fatalf("error %v with an event %+v", err, e)
			}
			return
		}
		switch e := e.(type) {
		case *event.CUDA:
			if e.Call == event.CallUnknown || int(e.Call) >= event.NumCalls {
				t.Fatalf("call %d accepted", e.Call)
			}
		case *event.Sock:
			if len(e.Data) > sockPayloadMax || len(e.Tail) > sockTailMax {
				t.Fatalf("payload %d+%d accepted", len(e.Data), len(e.Tail))
			}
		case *event.Proc:
		default:
			t.Fatalf("event of type %T", e)
		}
		var buf bytes.Buffer
		w := event.NewWriter(&buf)
		if err := w.Write(e); err != nil {
			t.Fatalf("write %+v: %v", e, err)
		}
		w.Flush()
		if _, err := event.NewReader(&buf).Read(); err != nil {
			t.Fatalf("read back %q: %v", buf.String(), err)
		}
	})
}
