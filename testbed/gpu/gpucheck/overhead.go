package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// loadSummary is the part of load.py's --json summary the overhead figure needs.
type loadSummary struct {
	ElapsedS   float64 `json:"elapsed_s"`
	Sent       int     `json:"sent"`
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Tokens     int     `json:"completion_tokens"`
	TokensPerS float64 `json:"tokens_per_s"`
	TTFTP50MS  float64 `json:"ttft_p50_ms"`
	TPOTP50MS  float64 `json:"tpot_p50_ms"`
}

func readSummary(path string) (loadSummary, error) {
	var s loadSummary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if s.ElapsedS <= 0 || s.OK == 0 {
		return s, fmt.Errorf("%s: no completed requests (%d sent, %d failed)", path, s.Sent, s.Failed)
	}
	return s, nil
}

// overhead is the relative loss of tokens/s with inferprobe attached against the mean of
// the runs without it.
func overhead(without []loadSummary, with loadSummary) (base, loss float64) {
	for _, s := range without {
		base += s.TokensPerS
	}
	base /= float64(len(without))
	return base, (base - with.TokensPerS) / base
}

func runOverhead(argv []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("overhead", pflag.ContinueOnError)
	label := fs.String("label", "", "how inferprobe was attached, for the result line")
	if err := fs.Parse(argv); err != nil {
		return errUsage
	}
	args := fs.Args()
	if len(args) < 2 {
		fmt.Fprintln(stdout, "usage: gpucheck overhead [--label TEXT] WITH.json WITHOUT.json [WITHOUT2.json...]")
		return errUsage
	}
	with, err := readSummary(args[0])
	if err != nil {
		return err
	}
	var without []loadSummary
	for _, p := range args[1:] {
		s, err := readSummary(p)
		if err != nil {
			return err
		}
		without = append(without, s)
		fmt.Fprintf(stdout, "without inferprobe (%s): %.1f tokens/s, %d requests, TTFT P50 %.2f ms, TPOT P50 %.3f ms\n",
			p, s.TokensPerS, s.OK, s.TTFTP50MS, s.TPOTP50MS)
	}
	fmt.Fprintf(stdout, "with inferprobe (%s): %.1f tokens/s, %d requests, TTFT P50 %.2f ms, TPOT P50 %.3f ms\n",
		args[0], with.TokensPerS, with.OK, with.TTFTP50MS, with.TPOTP50MS)
	base, loss := overhead(without, with)
	spread := 0.0
	if len(without) > 1 {
		lo, hi := without[0].TokensPerS, without[0].TokensPerS
		for _, s := range without[1:] {
			lo, hi = min(lo, s.TokensPerS), max(hi, s.TokensPerS)
		}
		spread = (hi - lo) / base
	}
	what := "inferprobe"
	if *label != "" {
		what += " (" + *label + ")"
	}
	fmt.Fprintf(stdout, "throughput cost of %s: %.1f%% of %.1f tokens/s (spread between the runs without it: %.1f%%)\n",
		what, 100*loss, base, 100*spread)
	return nil
}

// commit is set by make gpu-check (-ldflags -X main.commit=...): the commit of the tree
// bin/gpucheck and bin/inferprobe were built from, "-dirty" when it had changes.
var commit = ""

func runVersion(args []string, stdout io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build information in this binary")
	}
	rev, modified, when := "unknown", "", ""
	if commit != "" {
		rev = commit
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (with uncommitted changes)"
			}
		case "vcs.time":
			when = " of " + s.Value
		}
	}
	fmt.Fprintf(stdout, "gpucheck built by %s from commit %s%s%s\n", info.GoVersion, rev, when, modified)
	return nil
}
