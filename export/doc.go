// Package export turns what inferprobe measures into what its users read: Prometheus
// collectors (client_golang, node_exporter's pattern: each collector has
// Update(ch chan<- prometheus.Metric) error and is a prometheus.Collector), the JSONL and
// Perfetto record writers and the terminal view.
//
// Metric names follow the design: prefix inferprobe_, base units in the name
// (_seconds, _bytes, _ratio, _celsius, _watts, _hertz), counters end in _total,
// snake_case labels with bounded values. `promtool check metrics` lints the exposition
// in the tests.
//
// The pieces, by file:
//   - metrics.go: Metrics, a correlate.Sink that observes finished requests, steps, CUDA
//     errors and stalls into histograms (classic buckets and native ones) and counters;
//   - live.go, live_collector.go: Live keeps a copy of the correlator's per-unit gauges
//     and GPU counters, published from the correlator's goroutine, for scrapes;
//   - agent.go: the agent's own counters and inferprobe_build_info; gpu.go: NVML health;
//   - perfetto*.go, gpufile.go: trace.json (Chrome trace events) and gpu.jsonl;
//   - top.go, topwindow.go: the view model of `inferprobe top`, its sliding window and
//     its rendering, a pure function of the model.
//
// Collectors read state that others keep up to date (the GPU collector reads the latest
// snapshot of a gpu.Poller, the live collector the latest Live publication), so a scrape
// never waits on NVML, the kernel or the correlator. The package holds no correlation
// logic.
package export
