package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/tracer/event"
)

// callCounts is what one raw event stream says about the CUDA calls and socket syscalls
// of the traced processes.
type callCounts struct {
	entries, returns, errors  [event.NumCalls]int
	launches, captured, named int // kernel launches (cuLaunchKernel*, Ex, Cooperative)
	graphLaunches             int
	kernels                   map[string]int
	launchTIDs                map[uint32]int
	sock                      map[string]int // "op/syscall"
	results                   map[int32]int  // CUresults other than 0 and 600 on returns
	events                    int
}

// rawEvent is the part of a raw event line the counts need, decoded in one pass.
type rawEvent struct {
	Type     string          `json:"type"`
	PID      uint32          `json:"pid"`
	TID      uint32          `json:"tid"`
	Call     event.Call      `json:"call"`
	Ret      json.RawMessage `json:"ret"` // a CUDA event's return flag, a socket event's return value
	Result   int32           `json:"result"`
	Kernel   string          `json:"kernel"`
	Captured bool            `json:"captured"`
	Op       json.RawMessage `json:"op"` // a socket op, or a process op
	Syscall  event.Syscall   `json:"syscall"`
}

func newCallCounts() *callCounts {
	return &callCounts{kernels: map[string]int{}, launchTIDs: map[uint32]int{}, sock: map[string]int{}, results: map[int32]int{}}
}

// countCalls reads a raw event stream (events.jsonl) and counts what pid did (0: every
// process). A recording of a busy server holds millions of lines: they are decoded by
// one worker per CPU, in batches.
func countCalls(r io.Reader, pid uint32) (*callCounts, error) {
	type batch struct {
		first int // line number of lines[0]
		lines [][]byte
	}
	workers := runtime.GOMAXPROCS(0)
	in := make(chan batch, 2*workers)
	parts := make([]*callCounts, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = newCallCounts()
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := parts[w]
			for b := range in {
				for i, line := range b.lines {
					if err := c.addLine(line, pid); err != nil && errs[w] == nil {
						errs[w] = fmt.Errorf("event line %d: %w", b.first+i, err)
					}
				}
			}
		}()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	cur := batch{first: 1}
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		cur.lines = append(cur.lines, append([]byte(nil), sc.Bytes()...))
		if len(cur.lines) == 4096 {
			in <- cur
			cur = batch{first: n + 1}
		}
	}
	if len(cur.lines) > 0 {
		in <- cur
	}
	close(in)
	wg.Wait()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("event line %d: %w", n+1, err)
	}
	total := newCallCounts()
	var first error
	for w, p := range parts {
		total.merge(p)
		if errs[w] != nil && first == nil {
			first = errs[w]
		}
	}
	return total, first
}

func (c *callCounts) addLine(line []byte, pid uint32) error {
	var e rawEvent
	if err := json.Unmarshal(line, &e); err != nil {
		return err
	}
	if e.Type != "cuda" && e.Type != "sock" && e.Type != "proc" {
		return fmt.Errorf("%w %q", event.ErrUnknownType, e.Type)
	}
	if pid != 0 && e.PID != pid {
		return nil
	}
	c.events++
	switch e.Type {
	case "cuda":
		c.addCUDA(&event.CUDA{Header: event.Header{PID: e.PID, TID: e.TID}, Call: e.Call, Return: string(e.Ret) == "true",
			Result: e.Result, Kernel: e.Kernel, Captured: e.Captured})
	case "sock":
		var op event.SockOp
		if err := json.Unmarshal(e.Op, &op); err != nil {
			return err
		}
		c.sock[op.String()+"/"+e.Syscall.String()]++
	}
	return nil
}

func (c *callCounts) merge(o *callCounts) {
	for i := range c.entries {
		c.entries[i] += o.entries[i]
		c.returns[i] += o.returns[i]
		c.errors[i] += o.errors[i]
	}
	c.launches += o.launches
	c.captured += o.captured
	c.named += o.named
	c.graphLaunches += o.graphLaunches
	c.events += o.events
	for k, v := range o.kernels {
		c.kernels[k] += v
	}
	for k, v := range o.launchTIDs {
		c.launchTIDs[k] += v
	}
	for k, v := range o.sock {
		c.sock[k] += v
	}
	for k, v := range o.results {
		c.results[k] += v
	}
}

func (c *callCounts) addCUDA(v *event.CUDA) {
	if int(v.Call) >= event.NumCalls {
		return
	}
	if v.Return {
		c.returns[v.Call]++
		if v.Result != 0 && v.Result != 600 {
			c.errors[v.Call]++
			c.results[v.Result]++
		}
		return
	}
	c.entries[v.Call]++
	switch v.Call {
	case event.CallLaunchKernel, event.CallLaunchKernelEx, event.CallLaunchCooperativeKernel:
		if v.Captured {
			c.captured++
			return
		}
		c.launches++
		c.launchTIDs[v.TID]++
		if v.Kernel != "" {
			c.named++
			c.kernels[v.Kernel]++
		}
	case event.CallGraphLaunch:
		if !v.Captured {
			c.graphLaunches++
		}
	}
}

// NamedShare is the share of executed kernel launches whose kernel name was resolved.
func (c *callCounts) NamedShare() float64 {
	if c.launches == 0 {
		return 0
	}
	return float64(c.named) / float64(c.launches)
}

func (c *callCounts) write(w io.Writer) {
	fmt.Fprintf(w, "raw events: %d\n", c.events)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CUDA call\tentry records\treturn records\terror returns\t")
	for i := 1; i < event.NumCalls; i++ {
		if c.entries[i]+c.returns[i] == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", event.Call(i), c.entries[i], c.returns[i], c.errors[i])
	}
	tw.Flush()
	fmt.Fprintf(w, "kernel launches executed: %d (%d made while capturing a graph); named: %d (%.1f%%); graph launches: %d\n",
		c.launches, c.captured, c.named, 100*c.NamedShare(), c.graphLaunches)
	if len(c.results) > 0 {
		fmt.Fprintf(w, "CUresults other than 0 and 600: %v\n", c.results)
	}
	for _, kv := range top(c.launchTIDs, 5) {
		fmt.Fprintf(w, "launches on tid %s: %d\n", kv.k, kv.n)
	}
	for _, kv := range top(c.kernels, 12) {
		name := kv.k
		if len(name) > 100 {
			name = name[:97] + "..."
		}
		fmt.Fprintf(w, "kernel %7d  %s\n", kv.n, name)
	}
	socks := top(c.sock, len(c.sock))
	sort.Slice(socks, func(i, j int) bool { return socks[i].k < socks[j].k })
	for _, kv := range socks {
		fmt.Fprintf(w, "socket %-18s %d\n", kv.k, kv.n)
	}
}

type kn struct {
	k string
	n int
}

// top returns the n largest entries of m, largest first, ties by key.
func top[K comparable](m map[K]int, n int) []kn {
	out := make([]kn, 0, len(m))
	for k, v := range m {
		out = append(out, kn{fmt.Sprint(k), v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func runCalls(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("calls", pflag.ContinueOnError)
	pid := fs.Uint32("pid", 0, "count only this process's events (0: all)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stdout, "usage: gpucheck calls [--pid N] EVENTS_JSONL")
		return errUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := countCalls(f, *pid)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	c.write(stdout)
	return nil
}
