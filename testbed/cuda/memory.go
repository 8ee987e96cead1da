package cuda

// #include "shim.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// MemAlloc calls cuMemAlloc_v2.
func (l *Lib) MemAlloc(size uint64) (DevicePtr, error) {
	f, err := l.fnOf(symMemAlloc)
	if err != nil {
		return 0, err
	}
	var p C.ulonglong
	r := C.ip_mem_alloc(f, &p, C.size_t(size))
	if err := check(symNames[symMemAlloc], int(r)); err != nil {
		return 0, fmt.Errorf("allocate %d bytes: %w", size, err)
	}
	return DevicePtr(p), nil
}

// MemFree calls cuMemFree_v2.
func (l *Lib) MemFree(p DevicePtr) error {
	f, err := l.fnOf(symMemFree)
	if err != nil {
		return err
	}
	return check(symNames[symMemFree], int(C.ip_mem_free(f, C.ulonglong(p))))
}

// HostBuf is host memory from the C heap: the driver may write it after an async copy
// returns, which Go memory must never be exposed to.
type HostBuf struct {
	p unsafe.Pointer
	n int
}

// NewHostBuf allocates n zeroed bytes of C memory.
func NewHostBuf(n int) *HostBuf {
	if n <= 0 {
		n = 1
	}
	return &HostBuf{p: C.calloc(C.size_t(n), 1), n: n}
}

// Bytes views the buffer; valid until Free.
func (b *HostBuf) Bytes() []byte { return unsafe.Slice((*byte)(b.p), b.n) }

// Len is the buffer's size in bytes.
func (b *HostBuf) Len() int { return b.n }

// Free releases the buffer.
func (b *HostBuf) Free() {
	if b != nil && b.p != nil {
		C.free(b.p)
		b.p = nil
	}
}

func (b *HostBuf) span(n int) (unsafe.Pointer, error) {
	if b == nil || b.p == nil {
		return nil, fmt.Errorf("host buffer freed")
	}
	if n > b.n {
		return nil, fmt.Errorf("copy of %d bytes into a %d-byte host buffer", n, b.n)
	}
	return b.p, nil
}

// MemcpyHtoDAsync calls cuMemcpyHtoDAsync_v2: n bytes of src to dst, queued on s.
func (l *Lib) MemcpyHtoDAsync(dst DevicePtr, src *HostBuf, n int, s Stream) error {
	p, err := src.span(n)
	if err != nil {
		return err
	}
	f, name, err := l.pick(symMemcpyHtoDAsync, symMemcpyHtoDAsyncPtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_htod_async(f, C.ulonglong(dst), p, C.size_t(n), C.uintptr_t(s))))
}

// MemcpyDtoHAsync calls cuMemcpyDtoHAsync_v2: n bytes of src into dst, queued on s.
func (l *Lib) MemcpyDtoHAsync(dst *HostBuf, src DevicePtr, n int, s Stream) error {
	p, err := dst.span(n)
	if err != nil {
		return err
	}
	f, name, err := l.pick(symMemcpyDtoHAsync, symMemcpyDtoHAsyncPtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_dtoh_async(f, p, C.ulonglong(src), C.size_t(n), C.uintptr_t(s))))
}

// MemcpyDtoH calls cuMemcpyDtoH_v2, which blocks until the copy (and the work before it
// on the legacy stream) is done.
func (l *Lib) MemcpyDtoH(dst *HostBuf, src DevicePtr, n int) error {
	p, err := dst.span(n)
	if err != nil {
		return err
	}
	f, name, err := l.pick(symMemcpyDtoH, symMemcpyDtoHPtds)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_dtoh(f, p, C.ulonglong(src), C.size_t(n))))
}

// EventRecord calls cuEventRecord.
func (l *Lib) EventRecord(e Event, s Stream) error {
	f, name, err := l.pick(symEventRecord, symEventRecordPtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_event_record(f, C.uintptr_t(e), C.uintptr_t(s))))
}

// EventSynchronize calls cuEventSynchronize, which blocks until the event completes.
func (l *Lib) EventSynchronize(e Event) error {
	f, err := l.fnOf(symEventSynchronize)
	if err != nil {
		return err
	}
	return check(symNames[symEventSynchronize], int(C.ip_event_sync(f, C.uintptr_t(e))))
}

// StreamSynchronize calls cuStreamSynchronize, which blocks until s is idle.
func (l *Lib) StreamSynchronize(s Stream) error {
	f, name, err := l.pick(symStreamSynchronize, symStreamSynchronizePtsz)
	if err != nil {
		return err
	}
	return check(name, int(C.ip_stream_sync(f, C.uintptr_t(s))))
}

// EventSynchronizeAt is EventSynchronize that also returns the CLOCK_MONOTONIC time
// (ns) at which the call returned, read in C before Go reschedules the goroutine.
func (l *Lib) EventSynchronizeAt(e Event) (uint64, error) {
	f, err := l.fnOf(symEventSynchronize)
	if err != nil {
		return 0, err
	}
	var t C.uint64_t
	r := C.ip_event_sync_at(f, C.uintptr_t(e), &t)
	return uint64(t), check(symNames[symEventSynchronize], int(r))
}

// StreamSynchronizeAt is StreamSynchronize that also returns when the call returned.
func (l *Lib) StreamSynchronizeAt(s Stream) (uint64, error) {
	f, name, err := l.pick(symStreamSynchronize, symStreamSynchronizePtsz)
	if err != nil {
		return 0, err
	}
	var t C.uint64_t
	r := C.ip_stream_sync_at(f, C.uintptr_t(s), &t)
	return uint64(t), check(name, int(r))
}

// MemcpyDtoHAt is MemcpyDtoH that also returns when the call returned.
func (l *Lib) MemcpyDtoHAt(dst *HostBuf, src DevicePtr, n int) (uint64, error) {
	p, err := dst.span(n)
	if err != nil {
		return 0, err
	}
	f, name, err := l.pick(symMemcpyDtoH, symMemcpyDtoHPtds)
	if err != nil {
		return 0, err
	}
	var t C.uint64_t
	r := C.ip_dtoh_at(f, p, C.ulonglong(src), C.size_t(n), &t)
	return uint64(t), check(name, int(r))
}
