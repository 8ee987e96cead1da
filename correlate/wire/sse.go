package wire

import "bytes"

// EventKind classifies an SSE event of an inference stream.
type EventKind uint8

const (
	// EventOther: not JSON, or JSON of no known shape.
	EventOther EventKind = iota
	// EventContent carries generated output: completion text, a chat delta's content,
	// reasoning_content or tool calls, a TGI token, SGLang or llama.cpp text.
	EventContent
	// EventEmpty is an inference event without output: a role-only or empty delta, a
	// finish reason alone.
	EventEmpty
	// EventUsage carries usage counts and no output.
	EventUsage
	// EventDone is "data: [DONE]".
	EventDone
	// EventError is an error event: "event: error", or JSON with an "error" member or
	// "object": "error".
	EventError
)

var eventKindNames = [...]string{"other", "content", "empty", "usage", "done", "error"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "kind?"
}

// SSEEvent is one classified event.
type SSEEvent struct {
	Kind          EventKind
	ID            string // the response id the event carried ("" when none)
	Usage         Usage  // counts the event carried (any kind may carry them)
	Message       string // the error text of an error event
	ContextLength bool   // the error says the context or maximum length was exceeded
	Truncated     bool   // the event's data was cut (line cap or capture gap)
}

// maxEventData bounds the data kept of one event.
const maxEventData = maxLine

// ClassifyEvent classifies an event from its event name and data (data lines joined by
// "\n"). It is what the SSE parser calls for each event it dispatches.
func ClassifyEvent(name, data []byte) SSEEvent {
	var ev SSEEvent
	var sc scratch
	sc.classify(&ev, name, data, nil)
	return ev
}

// scratch is the walker and document a parser reuses for every event.
type scratch struct {
	w jwalker
	d doc
}

// classify fills ev; lastID, when given, is reused instead of allocating an equal id.
func (sc *scratch) classify(ev *SSEEvent, name, data []byte, lastID *string) {
	trimmed := bytes.TrimSpace(data)
	if string(trimmed) == "[DONE]" {
		ev.Kind = EventDone
		return
	}
	sc.d = doc{}
	d := &sc.d
	if len(trimmed) > 0 && trimmed[0] == '{' {
		sc.w.walk(trimmed, d)
	}
	if d.id != nil {
		if lastID != nil && string(d.id) == *lastID {
			ev.ID = *lastID
		} else {
			ev.ID = jsonText(d.id)
			if lastID != nil {
				*lastID = ev.ID
			}
		}
	}
	ev.Usage = d.usage
	switch {
	case string(name) == "error" || d.err:
		ev.Kind = EventError
		msg := d.message()
		if msg == nil && !d.object {
			msg = trimmed
		}
		ev.Message = jsonText(clip(msg, 1024))
		ev.ContextLength = SaysContextLength(msg)
	case d.content:
		ev.Kind = EventContent
	case d.usage.Present():
		ev.Kind = EventUsage
	case d.inference:
		ev.Kind = EventEmpty
	default:
		ev.Kind = EventOther
	}
}

// SSEParser splits an event stream (a response body, de-chunked) into classified events.
// Bytes that were not captured put it out of step: the event they cut is classified from
// what was read, and parsing resumes at the next blank line, or at the next fragment
// that starts with an SSE field.
type SSEParser struct {
	line     lineBuf
	name     []byte
	data     []byte
	hasData  bool
	cut      bool // the current event lost data (cap or gap)
	resync   bool // out of step: skipping to the next blank line
	resyncNL bool // resync saw a line end (the next empty line ends the skip)
	fresh    bool // the next write starts a fragment
	gaps     int
	lastID   string
	events   []SSEEvent
	sc       *scratch
}

// Feed parses one fragment of the stream and returns the events it completed (valid
// until the next call).
func (p *SSEParser) Feed(f Fragment) []SSEEvent {
	p.events = p.events[:0]
	p.boundary()
	feedFragment(f, p)
	return p.events
}

// End dispatches an event left without its closing blank line when the stream ends.
func (p *SSEParser) End() []SSEEvent {
	p.events = p.events[:0]
	p.end()
	return p.events
}

// Gaps is the number of times uncaptured bytes put the parser out of step.
func (p *SSEParser) Gaps() int { return p.gaps }

// boundary says the next bytes start a fragment (a syscall).
func (p *SSEParser) boundary() { p.fresh = true }

func (p *SSEParser) write(b []byte) {
	if p.fresh {
		p.fresh = false
		if p.resync && startsSSEField(b) {
			p.resync = false
			p.line.reset()
		}
	}
	for len(b) > 0 {
		if p.resync {
			b = p.skipToBlank(b)
			continue
		}
		n, line, ok := p.line.next(b)
		b = b[n:]
		if ok {
			p.lineDone(line, p.line.truncated())
		}
	}
}

// skipToBlank drops bytes up to and including the next empty line.
func (p *SSEParser) skipToBlank(b []byte) []byte {
	for i, c := range b {
		switch c {
		case '\n':
			if p.resyncNL {
				p.resync, p.resyncNL = false, false
				p.line.reset()
				return b[i+1:]
			}
			p.resyncNL = true
		case '\r':
		default:
			p.resyncNL = false
		}
	}
	return nil
}

func (p *SSEParser) skip(n int64) {
	p.fresh = false
	p.gaps++
	if p.hasData || len(p.line.partial()) > 0 {
		if part := p.line.partial(); len(part) > 0 {
			p.lineDone(part, true)
		}
		if p.hasData {
			p.cut = true
			p.dispatch()
		}
	}
	p.line.reset()
	p.resync, p.resyncNL = true, false
	p.name = p.name[:0]
}

func (p *SSEParser) end() {
	if part := p.line.partial(); len(part) > 0 && !p.resync {
		p.lineDone(part, false)
	}
	if p.hasData && !p.resync {
		p.dispatch()
	}
	p.line.reset()
}

func (p *SSEParser) lineDone(line []byte, truncated bool) {
	if len(line) == 0 {
		if p.hasData {
			p.dispatch()
		}
		p.name = p.name[:0]
		return
	}
	if line[0] == ':' {
		return // a comment (keep-alive)
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if p.hasData && len(p.data) < maxEventData {
			p.data = append(p.data, '\n')
		}
		room := maxEventData - len(p.data)
		if len(value) > room {
			value, truncated = value[:max(room, 0)], true
		}
		p.data = append(p.data, value...)
		p.hasData = true
		p.cut = p.cut || truncated
	case "event":
		p.name = append(p.name[:0], clip(value, 64)...)
	}
}

func (p *SSEParser) dispatch() {
	ev := SSEEvent{Truncated: p.cut}
	if p.sc == nil {
		p.sc = new(scratch)
	}
	p.sc.classify(&ev, p.name, p.data, &p.lastID)
	p.events = append(p.events, ev)
	p.data, p.hasData, p.cut = p.data[:0], false, false
	p.name = p.name[:0]
}

// startsSSEField reports whether b begins with an SSE field or comment.
func startsSSEField(b []byte) bool {
	for _, f := range [...]string{"data:", "event:", "id:", "retry:", ":"} {
		if bytes.HasPrefix(b, []byte(f)) {
			return true
		}
	}
	return false
}

func (p *SSEParser) release() {
	p.line.release()
	p.name, p.data, p.events, p.sc = nil, nil, nil, nil
}

// reset readies the parser for a new stream, keeping its buffers.
func (p *SSEParser) reset() {
	p.line.reset()
	*p = SSEParser{line: p.line, name: p.name[:0], data: p.data[:0], events: p.events[:0], sc: p.sc}
}
