package wire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// benchTokens is the length of the benchmark's streamed response: a vLLM chat completion
// of 1000 content events with usage, written as uvicorn writes it (one write per event).
const benchTokens = 1000

type streamFixture struct {
	evs    []*event.Sock
	bytes  int64
	events int
	writes [][]byte
}

func newStreamFixture() *streamFixture {
	var s script
	s.accept(1)
	s.read(1, chatReq(true, benchTokens))
	fx := &streamFixture{}
	events := vllmChatEvents(benchTokens)
	for _, w := range h11Writes(events) {
		s.write(1, w)
		fx.writes = append(fx.writes, []byte(w))
	}
	s.close(1)
	fx.evs = s.evs
	for _, e := range s.evs {
		fx.bytes += int64(len(e.Data))
	}
	fx.events = len(events)
	return fx
}

// BenchmarkTrackerStream runs a whole streamed exchange through the Tracker.
func BenchmarkTrackerStream(b *testing.B) {
	fx := newStreamFixture()
	b.SetBytes(fx.bytes)
	b.ReportAllocs()
	for b.Loop() {
		tr := NewTracker(Config{})
		n := 0
		for _, e := range fx.evs {
			n += len(tr.Feed(e))
		}
		if n != 1 {
			b.Fatalf("%d exchanges", n)
		}
	}
	reportRates(b, fx)
}

// BenchmarkResponseParser parses the response's writes alone.
func BenchmarkResponseParser(b *testing.B) {
	fx := newStreamFixture()
	var total int64
	for _, w := range fx.writes {
		total += int64(len(w))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		var p ResponseParser
		content := 0
		for _, w := range fx.writes {
			evs, _ := p.Feed(Bytes(w))
			for _, ev := range evs {
				content += ev.Content
			}
		}
		if content != benchTokens {
			b.Fatalf("%d content events", content)
		}
	}
	reportRates(b, fx)
}

// reportRates adds events/s and the speed ratio against a baseline measured in the same
// run: de-chunking with bufio and decoding each event with encoding/json into a struct
// of the fields the classifier reads.
func reportRates(b *testing.B, fx *streamFixture) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(fx.events)/perOp, "events/s")
	base := baselineNsPerOp(fx)
	b.ReportMetric(base/(perOp*1e9), "x_vs_encoding_json")
}

var (
	baselineOnce sync.Once
	baselineNs   float64
)

func baselineNsPerOp(fx *streamFixture) float64 {
	baselineOnce.Do(func() {
		body := dechunk(fx.writes)
		// The fastest of 5 rounds of 200 ms: the machine is shared.
		for range 5 {
			n, start := 0, time.Now()
			for time.Since(start) < 200*time.Millisecond {
				if c := jsonBaseline(body); c != benchTokens {
					panic("baseline miscounted")
				}
				n++
			}
			ns := float64(time.Since(start).Nanoseconds()) / float64(n)
			if baselineNs == 0 || ns < baselineNs {
				baselineNs = ns
			}
		}
	})
	return baselineNs
}

func dechunk(writes [][]byte) []byte {
	all := bytes.Join(writes, nil)
	all = all[bytes.Index(all, []byte("\r\n\r\n"))+4:]
	var body []byte
	for len(all) > 0 {
		i := bytes.Index(all, []byte("\r\n"))
		var n int
		for _, c := range all[:i] {
			v, _ := hexVal(c)
			n = n<<4 | int(v)
		}
		body = append(body, all[i+2:i+2+n]...)
		all = all[i+2+n+2:]
	}
	return body
}

type baselineChunk struct {
	ID      string `json:"id"`
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content   *string           `json:"content"`
			ToolCalls []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		Completion int `json:"completion_tokens"`
	} `json:"usage"`
}

func jsonBaseline(body []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("data: ")) || bytes.Equal(line[6:], []byte("[DONE]")) {
			continue
		}
		var c baselineChunk
		if json.Unmarshal(line[6:], &c) != nil {
			continue
		}
		for _, ch := range c.Choices {
			if ch.Text != "" || (ch.Delta.Content != nil && *ch.Delta.Content != "") || len(ch.Delta.ToolCalls) > 0 {
				n++
				break
			}
		}
	}
	return n
}
