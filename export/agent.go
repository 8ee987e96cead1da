package export

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// AgentStats is what the capture side has done so far (the tracer's Stats, as the
// agent hands it over: export does not import the tracer).
type AgentStats struct {
	// Events counts decoded events by type: cuda, sock, proc.
	Events map[string]uint64
	// Dropped counts ring-buffer records lost because the ring was full.
	Dropped uint64
	// Tracked counts the processes whose sockets are traced, Attached those with libcuda
	// probes attached.
	Tracked, Attached int
	// AttachErrors counts failed attaches.
	AttachErrors uint64
}

// AgentCollector exposes the agent's own counters (inferprobe_agent_*) from a function
// that reads them; the function must be cheap and safe to call from a scrape.
type AgentCollector struct {
	stats func() (AgentStats, error)
}

// NewAgentCollector returns a collector over stats.
func NewAgentCollector(stats func() (AgentStats, error)) *AgentCollector {
	return &AgentCollector{stats: stats}
}

var (
	agentEventsDesc = prometheus.NewDesc("inferprobe_agent_events_total",
		"Events decoded from the kernel, by type cuda, sock or proc.", []string{"type"}, nil)
	agentDroppedDesc = prometheus.NewDesc("inferprobe_agent_dropped_events_total",
		"Ring-buffer records lost because the ring was full (the reserve failed).", nil, nil)
	agentTrackedDesc = prometheus.NewDesc("inferprobe_agent_tracked_processes",
		"Processes whose sockets are traced.", nil, nil)
	agentAttachedDesc = prometheus.NewDesc("inferprobe_agent_attached_processes",
		"Processes with libcuda probes attached.", nil, nil)
	agentAttachErrorsDesc = prometheus.NewDesc("inferprobe_agent_attach_errors_total",
		"Failed attaches of a process's libcuda probes.", nil, nil)
)

// agentEventTypes are the values of inferprobe_agent_events_total's type label.
var agentEventTypes = []string{"cuda", "sock", "proc"}

// Describe implements prometheus.Collector.
func (c *AgentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{agentEventsDesc, agentDroppedDesc, agentTrackedDesc, agentAttachedDesc, agentAttachErrorsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *AgentCollector) Collect(ch chan<- prometheus.Metric) {
	if err := c.Update(ch); err != nil {
		ch <- prometheus.NewInvalidMetric(agentEventsDesc, err)
	}
}

// Update sends the agent's counters; an error from stats fails the scrape of these
// series only.
func (c *AgentCollector) Update(ch chan<- prometheus.Metric) error {
	st, err := c.stats()
	if err != nil {
		return err
	}
	for _, t := range agentEventTypes {
		ch <- prometheus.MustNewConstMetric(agentEventsDesc, prometheus.CounterValue, float64(st.Events[t]), t)
	}
	ch <- prometheus.MustNewConstMetric(agentDroppedDesc, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(agentTrackedDesc, prometheus.GaugeValue, float64(st.Tracked))
	ch <- prometheus.MustNewConstMetric(agentAttachedDesc, prometheus.GaugeValue, float64(st.Attached))
	ch <- prometheus.MustNewConstMetric(agentAttachErrorsDesc, prometheus.CounterValue, float64(st.AttachErrors))
	return nil
}

// NewBuildInfo returns inferprobe_build_info: always 1, with the version the binary was
// built as, the VCS revision Go stamped into it ("unknown" without one, "-dirty" appended
// for a modified tree) and the Go version.
func NewBuildInfo(version string) prometheus.Collector {
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && revision != "unknown" {
			revision += "-dirty"
		}
	}
	if version == "" {
		version = "dev"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "inferprobe_build_info",
		Help:        "Always 1; the labels say which inferprobe this is.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}
