package correlate

import (
	"errors"
	"fmt"
	"io"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// ReplayStats is what a replay read.
type ReplayStats struct {
	Events int
	// Torn is the number of a last line cut off in the middle (0: none), skipped: a
	// recorder killed while writing leaves one.
	Torn int
	// Corrupt are the other lines that are not events, skipped, with why.
	Corrupt []*event.LineError
}

// ErrNoEvents is a stream with no event in it at all.
var ErrNoEvents = errors.New("no event in the stream")

// Replay feeds a raw event stream (a recording's events.jsonl) through a correlator with
// opt into sink, and closes it: the records a live run would have made. Lines that are
// not events are skipped and counted; a stream with none that is an event is an error.
func Replay(r io.Reader, opt Options, sink Sink) (ReplayStats, error) {
	var st ReplayStats
	c, err := New(opt, sink)
	if err != nil {
		return st, err
	}
	rd := event.NewReader(r)
	for {
		e, err := rd.Read()
		if err == io.EOF {
			break
		}
		var le *event.LineError
		switch {
		case errors.As(err, &le) && le.Last:
			st.Torn = le.Line
			continue
		case errors.As(err, &le):
			st.Corrupt = append(st.Corrupt, le)
			continue
		case err != nil:
			return st, fmt.Errorf("replay: %w", err)
		}
		c.Feed(e)
		st.Events++
	}
	if st.Events == 0 && (st.Torn != 0 || len(st.Corrupt) > 0) {
		return st, fmt.Errorf("replay: %w (%d lines unreadable)", ErrNoEvents, len(st.Corrupt)+min(st.Torn, 1))
	}
	c.Close()
	return st, nil
}
