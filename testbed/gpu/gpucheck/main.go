// Command gpucheck reads what one run of testbed/gpu/check.sh left and prints the
// figures of the real-GPU validation (docs/gpu-validation.md). It is built here (the GPU
// machine has no Go toolchain) and carried there as bin/gpucheck. Subcommands:
//
//	gpucheck now                                     CLOCK_MONOTONIC ns (the clock of truth and events)
//	gpucheck version                                 the commit it was built from
//	gpucheck overhead WITH.json WITHOUT.json...      tokens/s cost of inferprobe (load.py --json summaries)
//	gpucheck compare [--from NS] [--to NS] TRUTH DIR  accuracy of DIR's records against the server's truth
//	gpucheck calls [--pid N] EVENTS                  hits per CUDA call and socket syscall, kernel-name share
//	gpucheck census-start [--group G] LIBCUDA        a tracefs uprobe on every exported cu* function of LIBCUDA
//	gpucheck census-stop [--group G] --out PROFILE   save their hit counts (uprobe_profile) and remove them
//	gpucheck census-report LIBCUDA PROFILE           per-symbol hits joined with LIBCUDA's exports
//	gpucheck nvml --url URL [--samples N]            inferprobe agent's GPU figures against nvidia-smi
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type command struct {
	summary string
	run     func(args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"now":           {"print CLOCK_MONOTONIC nanoseconds", runNow},
	"version":       {"print the commit this binary (and the inferprobe built with it) came from", runVersion},
	"overhead":      {"tokens/s with inferprobe attached against the runs without it (load.py --json files)", runOverhead},
	"compare":       {"compare a record directory with the GPU testbed's ground truth", runCompare},
	"calls":         {"count CUDA calls, socket syscalls and resolved kernel names in events.jsonl", runCalls},
	"census-start":  {"put a tracefs uprobe on every exported cu* function of a libcuda (root)", runCensusStart},
	"census-stop":   {"save the census uprobes' hit counts and remove them (root)", runCensusStop},
	"census-report": {"join tracefs uprobe_profile hit counts with a libcuda's exported symbols", runCensusReport},
	"nvml":          {"sample inferprobe agent /metrics and nvidia-smi together and compare the GPU figures", runNVML},
}

// errUsage marks a bad command line (exit status 2).
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gpucheck <command> [flags] [args]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		usage(os.Stderr)
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gpucheck: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	if err := c.run(os.Args[2:], os.Stdout); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "gpucheck %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
