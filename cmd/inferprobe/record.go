package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

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
	force := fs.Bool("force", false, "write over a recording already in --out")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "inferprobe record: --out DIR is required")
		return errUsage
	}
	if fs.Changed("duration") && *duration <= 0 {
		fmt.Fprintf(stderr, "inferprobe record: --duration %v: want a positive duration such as 10m (leave it out to record until interrupted)\n", *duration)
		return errUsage
	}
	if err := checkOut(*out, *force); err != nil {
		fmt.Fprintln(stderr, "inferprobe record:", err)
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
	// Once a second: every record file is flushed, so a recorder that is killed loses at
	// most the last second, and the recording ends when every --pid target is gone.
	var last time.Time
	everySecond := func() {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		if targetsGone(cf.procfs, cf.pids) {
			log.Info("every --pid target is gone: the recording ends")
			stop()
		}
		rw.Flush()
		if rawW != nil {
			if err := rawW.Flush(); err != nil && rawErr == nil {
				rawErr = err
			}
		}
	}
	runErr := pipe(ctx, t, corr, tap, everySecond)
	endNS, endWall := monotonicNS(), time.Now()
	corr.Advance(endNS)
	snaps := corr.Snapshot(endNS)
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
	giveToSudoUser(*out, log)
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
	connsReport(stdout, corr.WireStats(), snaps)
	exitsReport(stdout, corr.Exits(), endNS, endWall)
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
	out := fs.String("out", "", "write the rebuilt records (and trace.json) into this directory")
	inPlace := fs.Bool("in-place", false, "rewrite the recording's own records with the rebuilt ones")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		fmt.Fprintf(stderr, "replay: %s\n", flagError(err))
		return errUsage
	}
	if fs.NArg() != 1 || *out != "" && *inPlace {
		fmt.Fprintln(stderr, "usage: inferprobe replay DIR [--out DIR2 | --in-place]")
		return errUsage
	}
	dir := fs.Arg(0)
	if *inPlace {
		*out = dir
	}
	f, err := os.Open(filepath.Join(dir, export.EventsFile))
	if err != nil {
		return fmt.Errorf("replay %s: %w", dir, openHint(dir, err))
	}
	defer f.Close()
	summary := export.NewSummary()
	var sink correlate.Sink = summary
	var rw *export.RecordWriter
	if *out != "" {
		// Through temporary files renamed at the end: a replay that fails leaves the
		// records that were there.
		if rw, err = export.NewRecordWriterTemp(*out); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		sink, summary = rw, rw.Summary
	}
	st, err := correlate.Replay(f, kf.options(), sink)
	for _, le := range st.Corrupt {
		fmt.Fprintf(stderr, "replay: %s: line %d is not an event, skipped: %v\n", export.EventsFile, le.Line, le.Err)
	}
	if st.Torn != 0 {
		fmt.Fprintf(stderr, "replay: %s: the last line (%d) is cut off (the recorder stopped while writing it), skipped\n", export.EventsFile, st.Torn)
	}
	if err != nil {
		if rw != nil {
			rw.Abort()
		}
		return fmt.Errorf("replay %s: %w", dir, err)
	}
	if rw != nil {
		if err := rw.Close(); err != nil {
			return err
		}
		if err := export.WriteTraceDir(*out, filepath.Join(dir, export.GPUFile)); err != nil {
			return err
		}
	}
	if err := summary.Write(stdout); err != nil {
		return err
	}
	where := "nothing written (--out DIR2 or --in-place keeps the records)"
	if *out != "" {
		where = "records written into " + *out
	}
	fmt.Fprintf(stderr, "replayed %d events, %s\n", st.Events, where)
	return nil
}

// openHint names why a recording's events file could not be opened.
func openHint(dir string, err error) error {
	st, serr := os.Stat(dir)
	switch {
	case errors.Is(serr, fs.ErrNotExist):
		return errors.New("no such directory")
	case serr == nil && !st.IsDir():
		return errors.New("not a directory")
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied (the raw events are mode 0600: replay as the user who recorded, or as root)", export.EventsFile)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no %s in it: not a recording, or recorded with --record.raw=false", export.EventsFile)
	}
	return err
}

// checkOut refuses an --out that already holds a recording, unless force.
func checkOut(dir string, force bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("--out %s: not a directory", dir)
	}
	for _, name := range []string{export.RequestsFile, export.EventsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil && !force {
			return fmt.Errorf("--out %s already holds a recording (%s): choose another directory, or --force to write over it", dir, name)
		}
	}
	return nil
}

// giveToSudoUser makes a recording made under sudo belong to the user who ran sudo, so
// that replay needs no root (the raw events keep mode 0600).
func giveToSudoUser(dir string, log *slog.Logger) {
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		return
	}
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		log.Warn("recording left to root", "out", dir, "err", err)
	}
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
