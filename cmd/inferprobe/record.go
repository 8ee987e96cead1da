package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
)

func init() {
	register(command{name: "record", summary: "record requests, GPU steps and the raw events to a directory", run: runRecord})
	register(command{name: "replay", summary: "rebuild a recording's requests and steps from its raw events (no root)", run: runReplay})
}

// correlateFlags are the correlator's knobs, shared by record, replay, agent and top.
type correlateFlags struct {
	chunked    bool
	budget     int
	seqs       int
	stallAfter time.Duration
}

func (c *correlateFlags) register(fs interface {
	BoolVar(*bool, string, bool, string)
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.BoolVar(&c.chunked, "correlate.chunked-prefill", false,
		"the engine splits long prompts over several steps (vLLM V1 does): prefills are placed in the engine's first-come order")
	fs.IntVar(&c.budget, "correlate.max-num-batched-tokens", 0,
		"the engine's token budget per step, if known (vLLM's --max-num-batched-tokens): sharpens chunked-prefill placement")
	fs.IntVar(&c.seqs, "correlate.max-num-seqs", 0,
		"the most requests the engine runs at once, if known (vLLM's --max-num-seqs; 0: learnt from the batch sizes)")
	fs.DurationVar(&c.stallAfter, "correlate.stall-after", gpustep.DefaultStallAfter,
		"a blocking wait on the GPU in flight this long is a stall (a stuck GPU)")
}

func (c *correlateFlags) options() correlate.Options {
	return correlate.Options{ChunkedPrefill: c.chunked, MaxNumBatchedTokens: c.budget, MaxNumSeqs: c.seqs,
		GPU: gpustep.Config{StallAfter: c.stallAfter}}
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("record", stderr)
	var cf captureFlags
	cf.register(fs)
	var kf correlateFlags
	kf.register(fs)
	duration := fs.Duration("duration", 0, "stop after this long (0: until interrupted)")
	var gf gpuFlags
	gf.register(fs, time.Second)
	out := fs.String("out", "", "directory for requests.jsonl, steps.jsonl, cuda_errors.jsonl, events.jsonl, gpu.jsonl and trace.json (required)")
	raw := fs.Bool("record.raw", true, "keep the raw event stream (events.jsonl, mode 0600: it holds the first bytes of requests and responses) so replay can rebuild the records")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "inferprobe record: --out DIR is required")
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := cf.config(log)
	if err != nil {
		fmt.Fprintln(stderr, "inferprobe record:", err)
		return errUsage
	}
	if err := tracer.Preflight(); err != nil {
		return err
	}
	rw, err := export.NewRecordWriter(*out)
	if err != nil {
		return err
	}
	var tap func(event.Event)
	var rawFile *os.File
	var rawW *event.Writer
	var rawErr error
	if *raw {
		rawFile, err = os.OpenFile(filepath.Join(*out, export.EventsFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			rw.Close()
			return fmt.Errorf("raw events: %w", err)
		}
		defer rawFile.Close()
		rawW = event.NewWriter(rawFile)
		tap = func(e event.Event) {
			if err := rawW.Write(e); err != nil && rawErr == nil {
				rawErr = err
			}
		}
	}
	corr, err := correlate.New(kf.options(), rw)
	if err != nil {
		rw.Close()
		return err
	}
	t, err := tracer.New(cfg)
	if err != nil {
		rw.Close()
		return err
	}
	defer t.Close()

	ctx, stop := runContext(*duration)
	defer stop()
	gpuDone := recordGPU(ctx, &gf, *out, log)
	log.Info("recording", "out", *out, "duration", *duration)
	runErr := pipe(ctx, t, corr, tap, nil)
	corr.Close()
	gpuErr := gpuDone()
	if rawW != nil {
		if err := rawW.Flush(); err != nil && rawErr == nil {
			rawErr = err
		}
	}
	closeErr := rw.Close()
	if closeErr == nil {
		closeErr = export.WriteTraceDir(*out, filepath.Join(*out, export.GPUFile))
	}
	if closeErr == nil {
		closeErr = gpuErr
	}
	if st, err := t.Stats(); err == nil {
		log.Info("capture", "cuda", st.Events["cuda"], "sock", st.Events["sock"], "proc", st.Events["proc"],
			"drops", st.DropsTotal, "attached", st.Attached, "attach_failures", st.AttachFailures)
	}
	cs := corr.Stats()
	fmt.Fprintf(stdout, "recorded %d requests and %d GPU steps in %s (open %s in ui.perfetto.dev)\n", cs.Requests, cs.Steps, *out, export.TraceFile)
	if err := rw.Summary.Write(stdout); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return runErr
	case rawErr != nil:
		return fmt.Errorf("write raw events: %w", rawErr)
	}
	return closeErr
}

func runReplay(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	var kf correlateFlags
	kf.register(fs)
	out := fs.String("out", "", "write the rebuilt records here (default: the recording's own directory)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: inferprobe replay DIR [--out DIR2]")
		return errUsage
	}
	dir := fs.Arg(0)
	if *out == "" {
		*out = dir
	}
	f, err := os.Open(filepath.Join(dir, export.EventsFile))
	if err != nil {
		return fmt.Errorf("replay %s: %w (was it recorded with --record.raw=false?)", dir, err)
	}
	defer f.Close()
	n, err := replay(event.NewReader(f), *out, kf.options(), stdout)
	if err != nil {
		return err
	}
	if err := export.WriteTraceDir(*out, filepath.Join(dir, export.GPUFile)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "replayed %d events into %s\n", n, *out)
	return nil
}

// replay feeds a raw event stream to a correlator writing records into out.
func replay(r *event.Reader, out string, opt correlate.Options, stdout io.Writer) (int, error) {
	rw, err := export.NewRecordWriter(out)
	if err != nil {
		return 0, err
	}
	corr, err := correlate.New(opt, rw)
	if err != nil {
		rw.Close()
		return 0, err
	}
	n := 0
	for {
		e, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			rw.Close()
			return n, err
		}
		corr.Feed(e)
		n++
	}
	corr.Close()
	if err := rw.Close(); err != nil {
		return n, err
	}
	return n, rw.Summary.Write(stdout)
}

// recordGPU samples GPU health into gpu.jsonl in dir every --collector.gpu.interval until
// ctx is done; the function it returns waits for the last sample and closes the file.
// Without NVML it records nothing.
func recordGPU(ctx context.Context, gf *gpuFlags, dir string, log *slog.Logger) func() error {
	p, closeNVML := gf.open(log)
	if p == nil {
		return func() error { return nil }
	}
	w, err := export.NewGPUWriter(dir)
	if err != nil {
		closeNVML()
		return func() error { return err }
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(gf.interval)
		defer tick.Stop()
		for {
			snap := p.Poll()
			w.Write(export.GPUSample{TS: monotonicNS(), Devices: snap.Devices})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() error {
		<-done
		closeNVML()
		return w.Close()
	}
}
