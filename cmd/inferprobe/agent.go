package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/inferprobe/inferprobe/correlate"
	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/gpu"
	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
	"github.com/inferprobe/inferprobe/tracer/k8s"
)

func init() {
	register(command{name: "agent", summary: "serve Prometheus metrics of every traced serving unit and GPU", run: runAgent})
}

// version is the release this binary was built as (-ldflags "-X main.version=...").
var version = "dev"

// gpuFlags are the NVML knobs of the commands that sample GPU health.
type gpuFlags struct {
	interval time.Duration
	nvml     string
}

func (g *gpuFlags) register(fs interface {
	DurationVar(*time.Duration, string, time.Duration, string)
	StringVar(*string, string, string, string)
}, interval time.Duration) {
	fs.DurationVar(&g.interval, "collector.gpu.interval", interval, "how often GPU health is sampled from NVML")
	fs.StringVar(&g.nvml, "path.nvml", "", "the NVML library to load (default: libnvidia-ml.so.1 from the loader's path)")
}

// open starts NVML and returns a poller of every GPU and what closes it. Without NVML
// it logs once that GPU health is off and returns nil: everything else runs.
func (g *gpuFlags) open(log *slog.Logger) (*gpu.Poller, func()) {
	if g.interval <= 0 {
		log.Warn("gpu health off: --collector.gpu.interval must be positive", "interval", g.interval)
		return nil, nil
	}
	s, err := gpu.New(gpu.Options{LibraryPath: g.nvml, Logger: log})
	if err != nil {
		if errors.Is(err, gpu.ErrNoNVML) {
			log.Info(err.Error())
		} else {
			log.Warn("gpu health off: " + err.Error())
		}
		return nil, nil
	}
	p, err := gpu.NewPoller(s, g.interval, log)
	if err != nil {
		s.Close()
		log.Warn("gpu health off: " + err.Error())
		return nil, nil
	}
	log.Info("gpu health on", "gpus", s.Count(), "interval", g.interval)
	return p, func() { s.Close() }
}

// start samples GPU health in the background until ctx is done (nil without NVML).
func (g *gpuFlags) start(ctx context.Context, log *slog.Logger) *gpu.Poller {
	p, closeFn := g.open(log)
	if p == nil {
		return nil
	}
	go func() {
		p.Run(ctx)
		closeFn()
	}()
	return p
}

// agentStats adapts the tracer's counters for export.
func agentStats(t *tracer.Tracer) func() (export.AgentStats, error) {
	return func() (export.AgentStats, error) {
		st, err := t.Stats()
		if err != nil {
			return export.AgentStats{}, fmt.Errorf("tracer stats: %w", err)
		}
		return export.AgentStats{Events: st.Events, Dropped: st.DropsTotal, Tracked: st.Tracked,
			Attached: st.Attached, AttachErrors: st.AttachFailures}, nil
	}
}

func runAgent(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("agent", stderr)
	listen := fs.String("web.listen-address", ":9477", "address to serve /metrics on")
	path := fs.String("web.telemetry-path", "/metrics", "path of the metrics")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth); empty: plain HTTP")
	podLogs := fs.String("path.pod-logs", "/var/log/pods", "the kubelet's pod logs directory, for the namespace, pod and container labels of units in pods")
	var cf captureFlags
	cf.register(fs)
	var kf correlateFlags
	kf.register(fs)
	var gf gpuFlags
	gf.register(fs, 5*time.Second)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg, err := cf.config(log)
	if err == nil && !strings.HasPrefix(*path, "/") {
		err = fmt.Errorf("--web.telemetry-path %q must start with /", *path)
	}
	if err == nil {
		err = checkListenAddress(*listen)
	}
	if err != nil {
		fmt.Fprintln(stderr, "inferprobe agent:", err)
		return errUsage
	}
	if *webConfig != "" {
		if err := web.Validate(*webConfig); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", *webConfig, err)
		}
	}
	if err := tracer.Preflight(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: %w (is another agent running? pick another --web.listen-address)", *listen, err)
		}
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer ln.Close()

	pods := podLabels(*podLogs, log)
	metrics := export.NewMetrics(pods.Labeler())
	live := export.NewLive(pods.Labeler(), export.LiveOptions{})
	corr, err := correlate.New(kf.options(), metrics)
	if err != nil {
		return err
	}
	t, err := tracer.New(cfg)
	if err != nil {
		return err
	}
	defer t.Close()

	ctx, stop := runContext(0)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics, export.NewLiveCollector(live), export.NewAgentCollector(agentStats(t)),
		export.NewBuildInfo(version), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if p := gf.start(ctx, log); p != nil {
		reg.MustRegister(export.NewGPUCollector(p, live.UnitOf))
	}
	srv := &http.Server{Handler: agentMux(reg, *path), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- export.ServeListener(ctx, ln, srv, *webConfig, log) }()
	log.Info("serving metrics", "address", ln.Addr().String(), "path", *path)

	pipeErr := make(chan error, 1)
	go func() {
		pipeErr <- pipe(ctx, t, corr, func(e event.Event) { live.Observe(corr, e) },
			func() {
				pods.Update(corr.Units().ContainerCgroups())
				live.Publish(corr, corr.Now(), time.Now())
			})
	}()
	// Whichever ends first (a signal ends both) stops the other.
	var runErr, srvErr error
	select {
	case runErr = <-pipeErr:
		stop()
		srvErr = <-serveErr
	case srvErr = <-serveErr:
		stop()
		runErr = <-pipeErr
	}
	if srvErr != nil && runErr == nil {
		runErr = srvErr
	}
	if err := t.Close(); err != nil && runErr == nil {
		runErr = err
	}
	log.Info("stopped: probes detached")
	return runErr
}

// podLabels names units in Kubernetes pods from the node's pod log directories.
func podLabels(dir string, log *slog.Logger) *export.PodLabels {
	r := &k8s.Resolver{PodLogs: dir}
	if _, err := os.Stat(dir); err == nil {
		if err := r.Refresh(); err != nil {
			log.Warn("pod names", "err", err)
		}
	}
	return export.NewPodLabels(func(cg string) (string, string, string, bool) {
		l, ok := r.Labels(cg)
		return l.Namespace, l.Pod, l.Container, ok && l.Pod != ""
	})
}

func agentMux(reg *prometheus.Registry, path string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	if path != "/" {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<html><head><title>inferprobe</title></head><body><h1>inferprobe agent</h1><p><a href=%q>Metrics</a></p></body></html>\n", path)
		})
	}
	return mux
}

// checkListenAddress accepts HOST:PORT or :PORT with a port from 0 to 65535.
func checkListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if _, err = strconv.ParseUint(port, 10, 16); err == nil {
			return nil
		}
	}
	return fmt.Errorf("--web.listen-address %q: want HOST:PORT or :PORT, such as :9477 or 127.0.0.1:9477", addr)
}
