package tracer

import (
	"slices"
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestProbeTable(t *testing.T) {
	seen := map[event.Call]bool{}
	for _, p := range probes {
		if seen[p.call] {
			t.Errorf("%v twice in the table", p.call)
		}
		seen[p.call] = true
		if p.family != p.call.String() {
			t.Errorf("family %s for call %v", p.family, p.call)
		}
		if p.kernelLaunch() != (p.call.IsLaunch() && p.call != event.CallGraphLaunch) {
			t.Errorf("%v: kernelLaunch %v", p.call, p.kernelLaunch())
		}
	}
	for c := event.CallLaunchKernel; int(c) < event.NumCalls; c++ {
		if !seen[c] {
			t.Errorf("%v has no probe", c)
		}
	}
	// A library exporting what a CUDA 12 libcuda exports of a few families.
	syms := map[string]uint64{}
	for _, s := range []string{
		"cuLaunchKernel", "cuLaunchKernel_ptsz", "cuMemAlloc", "cuMemAlloc_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoH_v2_ptds",
		"cuGraphInstantiate", "cuGraphInstantiate_v2", "cuGraphInstantiateWithFlags", "cuEventRecordWithFlags_ptsz",
		"cuStreamBeginCapture", "cuStreamBeginCapture_v2_ptsz", "cuGetProcAddress",
	} {
		syms[s] = 0x1000
	}
	want := map[event.Call][]string{
		event.CallLaunchKernel:       {"cuLaunchKernel", "cuLaunchKernel_ptsz"},
		event.CallMemAlloc:           {"cuMemAlloc_v2"}, // not the v1 ABI
		event.CallMemcpyDtoH:         {"cuMemcpyDtoH_v2", "cuMemcpyDtoH_v2_ptds"},
		event.CallGraphInstantiate:   {"cuGraphInstantiate", "cuGraphInstantiate_v2", "cuGraphInstantiateWithFlags"},
		event.CallEventRecord:        {"cuEventRecordWithFlags_ptsz"},
		event.CallStreamBeginCapture: {"cuStreamBeginCapture", "cuStreamBeginCapture_v2_ptsz"},
		event.CallMemFree:            nil,
	}
	for _, p := range probes {
		w, ok := want[p.call]
		if !ok {
			continue
		}
		if got := p.variants(syms); !slices.Equal(got, w) {
			t.Errorf("%v variants %q, want %q", p.call, got, w)
		}
	}
	if c := candidates(); !slices.Contains(c, "cuMemcpyHtoDAsync_v2_ptsz") || slices.Contains(c, "cuMemFree") {
		t.Errorf("candidates: %d names, cuMemcpyHtoDAsync_v2_ptsz %v, cuMemFree %v", len(c),
			slices.Contains(c, "cuMemcpyHtoDAsync_v2_ptsz"), slices.Contains(c, "cuMemFree"))
	}
}

func TestCookie(t *testing.T) {
	for _, tc := range []struct {
		call event.Call
		sym  string
		want uint64
	}{
		{event.CallLaunchKernel, "cuLaunchKernel", 1},
		{event.CallLaunchKernel, "cuLaunchKernel_ptsz", 1 | 1<<16},
		{event.CallMemcpyDtoH, "cuMemcpyDtoH_v2_ptds", 8 | 1<<16},
		{event.CallGraphInstantiate, "cuGraphInstantiateWithFlags", 26},
	} {
		if got := cookie(tc.call, tc.sym); got != tc.want {
			t.Errorf("cookie(%v, %s) = %#x, want %#x", tc.call, tc.sym, got, tc.want)
		}
	}
}

func TestParseLaunchMode(t *testing.T) {
	for in, want := range map[string]LaunchMode{"on": {}, "off": {Off: true}, "sample:1": {Every: 1}, "sample:16": {Every: 16}} {
		got, err := ParseLaunchMode(in)
		if err != nil || got != want {
			t.Errorf("ParseLaunchMode(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "sample:0", "sample:-1", "sample:x", "sometimes"} {
		if _, err := ParseLaunchMode(bad); err == nil {
			t.Errorf("ParseLaunchMode(%q) accepted", bad)
		}
	}
	if s := (LaunchMode{Every: 16}).String(); s != "sample:16" {
		t.Errorf("String %q", s)
	}
	if (LaunchMode{Every: 1}).sample() != 0 || (LaunchMode{Every: 4}).sample() != 4 {
		t.Error("sample knob")
	}
}
