package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverhead(t *testing.T) {
	base, loss := overhead([]loadSummary{{TokensPerS: 1000}, {TokensPerS: 1100}}, loadSummary{TokensPerS: 997.5})
	if base != 1050 || math.Abs(loss-0.05) > 1e-12 {
		t.Errorf("base %v loss %v, want 1050 and 5%%", base, loss)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	with := write("with.json", `{"elapsed_s": 10, "sent": 40, "ok": 40, "completion_tokens": 9000, "tokens_per_s": 900}`)
	a := write("a.json", `{"elapsed_s": 10, "sent": 40, "ok": 40, "completion_tokens": 10000, "tokens_per_s": 1000}`)
	b := write("b.json", `{"elapsed_s": 10, "sent": 40, "ok": 40, "completion_tokens": 10000, "tokens_per_s": 1000}`)
	var out bytes.Buffer
	if err := runOverhead([]string{"--label", "record", with, a, b}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "throughput cost of inferprobe (record): 10.0% of 1000.0 tokens/s (spread between the runs without it: 0.0%)") {
		t.Errorf("overhead:\n%s", out.String())
	}
	empty := write("empty.json", `{"elapsed_s": 10, "sent": 5, "ok": 0, "failed": 5}`)
	if err := runOverhead([]string{with, empty}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no completed requests") {
		t.Errorf("a run without completions: %v", err)
	}
}
