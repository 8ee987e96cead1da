package fakecuda

import "testing"

func TestParseCostModel(t *testing.T) {
	for _, c := range []struct {
		spec   string
		kernel string
		grid   [3]uint32
		want   uint64
	}{
		{"", "anything", [3]uint32{10, 2, 1}, 4000 + 20*20},
		{"", "fakecuda_noop", [3]uint32{1000, 1, 1}, 0},
		{"*=100:1", "anything", [3]uint32{10, 10, 10}, 1100},
		{"gemm=5000:7, attn=1:2", "attn", [3]uint32{3, 1, 1}, 7},
		{"gemm=5000:7,gemm=1:1", "gemm", [3]uint32{1, 1, 1}, 2}, // later wins
		{"ns::op<a=b>=10:0", "ns::op<a=b>", [3]uint32{1, 1, 1}, 10},
		{"fakecuda_noop=9:0", "fakecuda_noop", [3]uint32{1, 1, 1}, 9},
	} {
		m, err := ParseCostModel(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if got := m.KernelNS(c.kernel, c.grid); got != c.want {
			t.Errorf("%q: %s %v costs %d, want %d", c.spec, c.kernel, c.grid, got, c.want)
		}
	}
	for _, bad := range []string{"x", "=1:2", "x=1", "x=a:1", "x=1:-2"} {
		if _, err := ParseCostModel(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := CopyNS(1<<20, DefaultCopyGBPS); got != 41943 {
		t.Errorf("1 MiB copy at 25 GB/s: %d ns, want 41943", got)
	}
}
