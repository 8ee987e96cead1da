package export

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inferprobe/inferprobe/correlate/wire"
)

// LiveCollector exposes the per-unit gauges and GPU counters of the latest Live
// publication (node_exporter's pattern: Update sends, Collect wraps it).
type LiveCollector struct {
	live   *Live
	labels UnitLabeler
}

// NewLiveCollector returns a collector over live.
func NewLiveCollector(live *Live) *LiveCollector {
	return &LiveCollector{live: live, labels: live.labels}
}

func unitDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, withUnit(extra...), nil)
}

// connStates are the values of inferprobe_connections' state label.
var connStates = []string{wire.ConnHTTP, wire.ConnUnsynced, "tls", "http2", "zmq", "binary"}

var (
	waitingDesc = unitDesc("inferprobe_requests_waiting", "Requests that arrived and have no first token yet (queue depth).")
	runningDesc = unitDesc("inferprobe_requests_running", "Requests that got their first token and have not finished.")
	partialDesc = unitDesc("inferprobe_requests_partial",
		"Of the running requests, those already in flight when inferprobe attached (their arrival is unknown).")
	connsDesc = unitDesc("inferprobe_connections",
		"Open connections of the unit by state: http (parsed), unsynced (met mid-message, waiting for a message boundary), or what an unparsed one carries (tls, http2, zmq, binary).", "state")
	inFlightDesc = unitDesc("inferprobe_gpu_wait_in_flight_seconds",
		"The longest blocking wait on the GPU in flight now (0 when none).")
	stalledDesc = unitDesc("inferprobe_gpu_stalled_waits",
		"Blocking waits in flight for longer than the stall threshold now: a stuck GPU.")
	memoryDesc = unitDesc("inferprobe_cuda_memory_bytes",
		"Live driver allocations of the unit's processes; phase startup: made before the unit's first request (weights, caches), serving: after it.", "phase")
	startDesc = unitDesc("inferprobe_unit_start_time_seconds",
		"Start of the unit's oldest GPU process, Unix time.")
	restartsDesc = unitDesc("inferprobe_unit_restarts_total",
		"GPU processes of the unit that exited and were replaced.")
	faultedDesc = unitDesc("inferprobe_unit_faulted",
		"1 after a sticky CUDA fault in one of the unit's processes: it must restart.")
	launchesDesc = unitDesc("inferprobe_cuda_launches_total",
		"Executed CUDA launches by type kernel (eager) or graph.", "type")
	kernelDesc = unitDesc("inferprobe_cuda_kernel_launches_total",
		"Executed kernel launches per kernel name: the unit's first 20 names by count, the rest as other.", "kernel")
	waitDesc = unitDesc("inferprobe_gpu_wait_seconds_total",
		"Time the host spent blocked on the GPU in blocking waits.")
	hostIdleDesc = unitDesc("inferprobe_gpu_host_idle_seconds_total",
		"Host gaps: time the GPU waited on the CPU between steps.")
)

// Describe implements prometheus.Collector.
func (c *LiveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{waitingDesc, runningDesc, partialDesc, connsDesc, inFlightDesc, stalledDesc, memoryDesc, startDesc,
		restartsDesc, faultedDesc, launchesDesc, kernelDesc, waitDesc, hostIdleDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LiveCollector) Collect(ch chan<- prometheus.Metric) {
	if err := c.Update(ch); err != nil {
		ch <- prometheus.NewInvalidMetric(waitingDesc, err)
	}
}

// Update sends the series of every unit of the latest publication (nothing before the
// first). It reads a copy and never fails.
func (c *LiveCollector) Update(ch chan<- prometheus.Metric) error {
	units, _ := c.live.Units()
	for _, u := range units {
		lv := c.labels.values(u.Unit)
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv[:len(lv):len(lv)], extra...)...)
		}
		counter := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append(lv[:len(lv):len(lv)], extra...)...)
		}
		gauge(waitingDesc, float64(u.Waiting))
		gauge(runningDesc, float64(u.Running))
		gauge(partialDesc, float64(u.Partial))
		for _, st := range connStates {
			if n, ok := u.Conns[st]; ok || st == wire.ConnHTTP || st == wire.ConnUnsynced {
				gauge(connsDesc, float64(n), st)
			}
		}
		if len(u.PIDs) == 0 && u.Launches == 0 && u.GraphLaunches == 0 && u.WaitNS == 0 {
			continue // a front end without GPU processes of its own (yet)
		}
		gauge(inFlightDesc, float64(u.LongestWaitNS)/1e9)
		gauge(stalledDesc, float64(u.Stalled))
		gauge(memoryDesc, float64(u.MemBeforeBytes), "startup")
		gauge(memoryDesc, float64(u.MemAfterBytes), "serving")
		if u.StartUnix > 0 {
			gauge(startDesc, u.StartUnix)
		}
		counter(restartsDesc, float64(u.Restarts))
		faulted := 0.0
		if u.Faulted {
			faulted = 1
		}
		gauge(faultedDesc, faulted)
		counter(launchesDesc, float64(u.Launches), "kernel")
		counter(launchesDesc, float64(u.GraphLaunches), "graph")
		for _, k := range u.Kernels {
			counter(kernelDesc, float64(k.Count), k.Name)
		}
		if u.OtherKernels > 0 || len(u.Kernels) > 0 {
			counter(kernelDesc, float64(u.OtherKernels), "other")
		}
		counter(waitDesc, float64(u.WaitNS)/1e9)
		counter(hostIdleDesc, float64(u.HostGapNS)/1e9)
	}
	return nil
}
