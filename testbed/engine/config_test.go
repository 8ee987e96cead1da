package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestFlagsDefaultsAndArgsRoundTrip(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	cfg := Flags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, DefaultConfig()) {
		t.Fatalf("flag defaults %+v differ from DefaultConfig", *cfg)
	}
	want := DefaultConfig()
	want.MaxNumSeqs, want.MaxNumBatchedTokens, want.ChunkedPrefill = 32, 2048, true
	want.Workers, want.WaitMode, want.Lib, want.PerThread = 2, WaitCopy, "/opt/lib", true
	want.TruthPath, want.Layers, want.Seed, want.FaultRate = "/tmp/t.jsonl", 8, 7, 0.25
	want.Cost = Costs{Base: 3 * time.Millisecond, PrefillToken: 15 * time.Microsecond, DecodeSeq: 1500 * time.Nanosecond}
	want.WeightsBytes, want.KVCacheBytes = 1<<30, 2<<30
	fs2 := pflag.NewFlagSet("t2", pflag.ContinueOnError)
	got := Flags(fs2)
	if err := fs2.Parse(want.Args()); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("Args round trip:\n got %+v\nwant %+v", *got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.MaxNumSeqs = 0 }, "max-num-seqs"},
		{func(c *Config) { c.MaxNumBatchedTokens = 2048 }, "enable chunked prefill"},
		{func(c *Config) { c.MaxNumBatchedTokens = 2048; c.ChunkedPrefill = true; c.MaxNumSeqs = 4096 }, "below max-num-seqs"},
		{func(c *Config) { c.Workers = 0 }, "workers"},
		{func(c *Config) { c.WaitMode = "spin" }, "wait-mode"},
		{func(c *Config) { c.Layers = 0 }, "layers"},
		{func(c *Config) { c.FaultRate = 2 }, "fault-rate"},
		{func(c *Config) { c.Cost.Base = -1 }, "negative"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error about %q, got %v", tc.want, err)
		}
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
