package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/engine"
	"github.com/inferprobe/inferprobe/testbed/frontend"
	"github.com/inferprobe/inferprobe/testbed/truth"
	"github.com/inferprobe/inferprobe/testbed/uvicorn"
)

// engineFlags are the engine subcommand's own flags; the core's come from engine.Flags
// (which has --truth and --max-model-len, read here too).
type engineFlags struct {
	host     string
	port     int
	listen   string
	procs    int
	frontend string
	model    string
}

func runEngine(args []string) error {
	fs := pflag.NewFlagSet("engine", pflag.ContinueOnError)
	var f engineFlags
	fs.StringVar(&f.host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&f.port, "port", 8000, "port to listen on (0: any free port)")
	fs.StringVar(&f.listen, "listen", "", "host:port to listen on (overrides --host and --port)")
	fs.IntVar(&f.procs, "procs", 1, "1: front end and core in one process; 2: the core in its own process over a unix socket")
	fs.StringVar(&f.frontend, "frontend", "go", "API server: go, or uvicorn (FastAPI under uvicorn with uvloop; the core is always its child)")
	fs.StringVar(&f.model, "model", "testbed", "the served model name")
	cfg := engine.Flags(fs)
	fs.Lookup("lib").Usage = "libcuda.so.1 to load: a file or a directory (default: the one beside this executable, else the loader's search path, LD_LIBRARY_PATH first)"
	fs.SortFlags = false
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	host, port := f.host, f.port
	if f.listen != "" {
		h, p, err := net.SplitHostPort(f.listen)
		if err != nil {
			return fmt.Errorf("--listen %q: %w", f.listen, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("--listen %q: bad port", f.listen)
		}
		host = h
	}
	if f.procs != 1 && f.procs != 2 {
		return fmt.Errorf("--procs %d: want 1 or 2", f.procs)
	}
	if !fs.Changed("lib") {
		cfg.Lib = defaultLib()
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	switch f.frontend {
	case "uvicorn":
		if fs.Changed("procs") && f.procs != 2 {
			return errors.New("--frontend uvicorn runs the core in its own process: --procs must be 2")
		}
		return uvicorn.Exec(uvicorn.Args{Host: host, Port: port, Model: f.model, MaxModelLen: cfg.MaxModelLen,
			Truth: cfg.TruthPath, Testbed: exe, CoreArgs: cfg.Args()})
	case "go":
	default:
		return fmt.Errorf("--frontend %q: want go or uvicorn", f.frontend)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	tw, err := openTruth(cfg.TruthPath)
	if err != nil {
		return err
	}
	defer tw.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer ln.Close()
	var core frontend.Core
	var closeCore func() error
	if f.procs == 1 {
		// The core outlives ctx: it is closed after the server has stopped.
		c, err := engine.Start(context.Background(), *cfg)
		if err != nil {
			return fmt.Errorf("start engine core: %w", err)
		}
		core, closeCore = c, c.Close
	} else {
		r, err := frontend.StartRemote(frontend.RemoteConfig{Exe: exe, Args: cfg.Args(), Log: log})
		if err != nil {
			return err
		}
		core, closeCore = r, func() error { return r.Close(10 * time.Second) }
	}
	srv, err := frontend.New(frontend.Config{Model: f.model, MaxModelLen: cfg.MaxModelLen, Truth: tw, Log: log}, core)
	if err != nil {
		closeCore()
		return err
	}
	fmt.Printf("testbed serving http://%s pid=%d\n", ln.Addr(), os.Getpid())
	serr := srv.Serve(ctx, ln)
	cerr := closeCore()
	if serr != nil {
		return serr
	}
	return cerr
}

// openTruth opens the request truth file (nil Writer for none).
func openTruth(path string) (*truth.Writer, error) {
	if path == "" {
		return nil, nil
	}
	return truth.Create(path)
}

// defaultLib is the libcuda.so.1 beside this executable (make puts both in bin/), else
// "": the loader's search path (LD_LIBRARY_PATH, then the system's).
func defaultLib() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	for _, d := range []string{dir, filepath.Join(dir, "bin")} {
		if _, err := os.Stat(filepath.Join(d, "libcuda.so.1")); err == nil {
			return d
		}
	}
	return ""
}
