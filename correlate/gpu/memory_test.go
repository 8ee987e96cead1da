package gpustep

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestMemory(t *testing.T) {
	a := ev{10, 11}
	alloc := func(ts uint64, c event.Call, out, size uint64, result int32) *event.CUDA {
		e := a.ret(ts-1*us, ts, c, result)
		e.Out, e.Bytes = out, size
		return e
	}
	free := func(ts uint64, c event.Call, addr uint64) *event.CUDA {
		e := a.ret(ts-1*us, ts, c, 0)
		if c == event.CallMemRelease {
			e.Handle = addr
		} else {
			e.Addr = addr
		}
		return e
	}
	const GiB = uint64(1 << 30)
	const MiB = uint64(1 << 20)
	c := &Collector{}
	tr, err := New(Config{}, c)
	if err != nil {
		t.Fatal(err)
	}
	feed := func(evs ...*event.CUDA) {
		for _, e := range evs {
			tr.Handle(e)
		}
	}
	feed(
		alloc(1*ms, event.CallMemAlloc, 0x1000, 10*GiB, 0),        // weights
		alloc(2*ms, event.CallMemCreate, 0x77, 20*GiB, 0),         // KV cache, by handle
		alloc(3*ms, event.CallMemAlloc, 0x2000, 64*MiB, 0),        // workspace, freed below
		alloc(4*ms, event.CallMemAlloc, 0, 1*GiB, ErrOutOfMemory), // failed: not counted
		free(5*ms, event.CallMemFree, 0x2000),
		free(6*ms, event.CallMemFree, 0xdead), // allocated before the tracer attached
	)
	tr.SetMarker(10, 100*ms)
	feed(
		alloc(200*ms, event.CallMemAllocAsync, 0x3000, 256*MiB, 0),
		alloc(201*ms, event.CallMemAllocAsync, 0x4000, 128*MiB, 0),
		free(202*ms, event.CallMemFreeAsync, 0x3000),
		alloc(203*ms, event.CallMemCreate, 0x78, 2*MiB, 0),
		free(204*ms, event.CallMemRelease, 0x77), // the KV cache, allocated before the marker
		free(205*ms, event.CallMemFree, 0),       // freeing NULL: nothing
	)
	m, err := tr.Memory(10)
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{
		PID:            10,
		AllocatedBytes: 10*GiB + 20*GiB + 64*MiB + 256*MiB + 128*MiB + 2*MiB,
		FreedBytes:     64*MiB + 256*MiB + 20*GiB,
		CurrentBytes:   10*GiB + 128*MiB + 2*MiB,
		PeakBytes:      30*GiB + 256*MiB + 128*MiB, // both async allocations live
		Allocs:         6, Frees: 3, UnknownFrees: 1,
		MarkerNS: 100 * ms, MarkerSet: true,
		BeforeBytes: 10 * GiB,
		AfterBytes:  128*MiB + 2*MiB,
	}
	if m != want {
		t.Errorf("memory\n got %+v\nwant %+v", m, want)
	}
	if len(c.Errors) != 1 || c.Errors[0].Class != ClassOOM {
		t.Errorf("errors %+v", c.Errors)
	}
	// moving the marker back re-splits the live memory
	tr.SetMarker(10, 0)
	if m, _ := tr.Memory(10); m.BeforeBytes != 0 || m.AfterBytes != m.CurrentBytes {
		t.Errorf("marker at 0: before %d after %d current %d", m.BeforeBytes, m.AfterBytes, m.CurrentBytes)
	}
	if _, err := tr.Memory(99); err != ErrUnknownPID {
		t.Errorf("unknown pid: %v", err)
	}
}

func TestMemoryLimitAndReuse(t *testing.T) {
	a := ev{1, 1}
	alloc := func(ts, out, size uint64) *event.CUDA {
		e := a.ret(ts, ts+1, event.CallMemAlloc, 0)
		e.Out, e.Bytes = out, size
		return e
	}
	tr, _ := run(t, Config{LiveAllocs: 2}, cat(
		alloc(1, 0xa, 100), alloc(2, 0xb, 10), alloc(3, 0xc, 1), // 0xc past the limit
		alloc(4, 0xa, 50), // 0xa again: its free was lost
	))
	m, _ := tr.Memory(1)
	if m.AllocatedBytes != 161 || m.CurrentBytes != 60 || m.Untracked != 1 || m.BeforeBytes != 60 || m.PeakBytes != 110 {
		t.Errorf("memory %+v", m)
	}
}
