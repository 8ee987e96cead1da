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
// Collectors read state that others keep up to date (the GPU collector reads the latest
// snapshot of a gpu.Poller), so a scrape never waits on NVML or the kernel. The package
// holds no correlation logic.
package export
