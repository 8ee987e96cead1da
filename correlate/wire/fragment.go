package wire

import "github.com/inferprobe/inferprobe/tracer/event"

// Fragment is what one read or write moved: Len bytes, of which Head (the first bytes)
// and Tail (the last bytes, not overlapping Head) were captured. The Len-len(Head)-len(Tail)
// bytes in between are unknown.
type Fragment struct {
	Head []byte
	Tail []byte
	Len  int64
}

// Bytes is a fully captured fragment.
func Bytes(b []byte) Fragment { return Fragment{Head: b, Len: int64(len(b))} }

// Truncated is a fragment of n bytes of which only head and tail were captured.
func Truncated(head, tail []byte, n int64) Fragment {
	return Fragment{Head: head, Tail: tail, Len: n}.normal()
}

// FromSock is the fragment a read or write event moved (empty when it moved nothing).
func FromSock(e *event.Sock) Fragment {
	if e.Ret <= 0 {
		return Fragment{}
	}
	return Fragment{Head: e.Data, Tail: e.Tail, Len: e.Ret}.normal()
}

// Gap is the number of bytes between Head and Tail that were not captured.
func (f Fragment) Gap() int64 { return f.Len - int64(len(f.Head)) - int64(len(f.Tail)) }

// normal makes the parts consistent with Len: captured bytes never exceed it.
func (f Fragment) normal() Fragment {
	if f.Len < 0 {
		f.Len = 0
	}
	if int64(len(f.Head)) > f.Len {
		f.Head = f.Head[:f.Len]
	}
	if room := f.Len - int64(len(f.Head)); int64(len(f.Tail)) > room {
		f.Tail = f.Tail[int64(len(f.Tail))-room:]
	}
	if len(f.Tail) == 0 {
		f.Tail = nil
	}
	return f
}

// sink consumes a byte stream of which some stretches are unknown.
type sink interface {
	write(p []byte)
	skip(n int64)
}

// feedFragment hands a fragment's known and unknown stretches to s in order.
func feedFragment(f Fragment, s sink) {
	if len(f.Head) > 0 {
		s.write(f.Head)
	}
	if g := f.Gap(); g > 0 {
		s.skip(g)
	}
	if len(f.Tail) > 0 {
		s.write(f.Tail)
	}
}
