package export

import (
	"strconv"

	"github.com/inferprobe/inferprobe/gpu"
	"github.com/prometheus/client_golang/prometheus"
)

// GPUSource gives the latest GPU snapshot without touching NVML; *gpu.Poller is one.
type GPUSource interface {
	Latest() gpu.Snapshot
}

// GPUCollector exposes GPU health (inferprobe_gpu_*) from the latest snapshot of a
// GPUSource. Every per-GPU series carries the labels gpu (NVML index), uuid and name; a
// value the GPU does not support is simply absent.
type GPUCollector struct {
	src    GPUSource
	unitOf func(pid uint32) string
}

// NewGPUCollector returns a collector over src. unitOf, when not nil, names the serving
// unit of a pid for the unit label of inferprobe_gpu_process_memory_bytes ("" when the
// pid belongs to none); it is called at scrape time and must be cheap.
func NewGPUCollector(src GPUSource, unitOf func(pid uint32) string) *GPUCollector {
	return &GPUCollector{src: src, unitOf: unitOf}
}

var gpuLabels = []string{"gpu", "uuid", "name"}

func gpuDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc("inferprobe_gpu_"+name, help, append(append([]string{}, gpuLabels...), extra...), nil)
}

var (
	gpuUtilizationDesc = gpuDesc("utilization_ratio",
		"Fraction of the last NVML sample period during which one or more kernels ran on the GPU.")
	gpuMemoryUtilizationDesc = gpuDesc("memory_utilization_ratio",
		"Fraction of the last NVML sample period during which device memory was read or written (bandwidth busy time, not capacity).")
	gpuMemoryUsedDesc  = gpuDesc("memory_used_bytes", "Device memory allocated.")
	gpuMemoryTotalDesc = gpuDesc("memory_total_bytes", "Device memory installed.")
	gpuMemoryFreeDesc  = gpuDesc("memory_free_bytes", "Device memory not allocated.")
	gpuTemperatureDesc = gpuDesc("temperature_celsius", "GPU core temperature.")
	gpuPowerDesc       = gpuDesc("power_watts", "Board power draw.")
	gpuPowerLimitDesc  = gpuDesc("power_limit_watts", "Enforced board power limit.")
	gpuSMClockDesc     = gpuDesc("sm_clock_hertz", "Current SM clock.")
	gpuMemoryClockDesc = gpuDesc("memory_clock_hertz", "Current memory clock.")
	gpuThrottleDesc    = gpuDesc("throttle_active",
		"1 when the reason is holding the GPU clocks below their maximum now, else 0 (NVML clocks event reasons; other = bits this version does not name).", "reason")
	gpuECCDesc = gpuDesc("ecc_errors_total",
		"ECC memory errors since the NVIDIA driver loaded (volatile counters), by type corrected or uncorrected.", "type")
	gpuECCLifetimeDesc = gpuDesc("ecc_lifetime_errors_total",
		"ECC memory errors over the GPU's life (aggregate counters kept in the inforom), by type corrected or uncorrected.", "type")
	gpuXIDDesc = gpuDesc("xid_errors_total",
		"XID critical errors NVML reported since the agent started, by XID number (gpu, uuid and name empty when NVML did not say which GPU).", "xid")
	gpuProcessMemoryDesc = gpuDesc("process_memory_bytes",
		"Device memory used by a compute process on the GPU, with the serving unit of the pid (empty when none).", "pid", "unit")
	gpuSampleErrorsDesc = prometheus.NewDesc("inferprobe_gpu_sample_errors_total",
		"GPU samples in which some NVML read failed (the agent logs each distinct error once).", nil, nil)
	gpuLastSampleDesc = prometheus.NewDesc("inferprobe_gpu_last_sample_timestamp_seconds",
		"Unix time of the latest GPU sample; it stops moving when NVML hangs.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *GPUCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		gpuUtilizationDesc, gpuMemoryUtilizationDesc, gpuMemoryUsedDesc, gpuMemoryTotalDesc,
		gpuMemoryFreeDesc, gpuTemperatureDesc, gpuPowerDesc, gpuPowerLimitDesc, gpuSMClockDesc,
		gpuMemoryClockDesc, gpuThrottleDesc, gpuECCDesc, gpuECCLifetimeDesc, gpuXIDDesc,
		gpuProcessMemoryDesc, gpuSampleErrorsDesc, gpuLastSampleDesc,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *GPUCollector) Collect(ch chan<- prometheus.Metric) {
	if err := c.Update(ch); err != nil {
		ch <- prometheus.NewInvalidMetric(gpuSampleErrorsDesc, err)
	}
}

// Update sends the metrics of the latest snapshot; nothing before the first sample. It
// does not fail: NVML errors are counted in inferprobe_gpu_sample_errors_total (and
// logged by the poller), so a failing GPU never fails the scrape.
func (c *GPUCollector) Update(ch chan<- prometheus.Metric) error {
	snap := c.src.Latest()
	if snap.Time.IsZero() {
		return nil
	}
	ch <- prometheus.MustNewConstMetric(gpuSampleErrorsDesc, prometheus.CounterValue, float64(snap.Failures))
	ch <- prometheus.MustNewConstMetric(gpuLastSampleDesc, prometheus.GaugeValue, float64(snap.Time.UnixNano())/1e9)
	for _, d := range snap.Devices {
		c.device(ch, d)
	}
	for k, n := range snap.XIDs {
		labels := []string{"", "", ""}
		if d, ok := snap.Device(k.GPU); ok {
			labels = []string{strconv.Itoa(d.Index), d.UUID, d.Name}
		}
		ch <- prometheus.MustNewConstMetric(gpuXIDDesc, prometheus.CounterValue, float64(n),
			append(labels, strconv.FormatUint(k.XID, 10))...)
	}
	return nil
}

// device sends the series of one GPU, skipping values it did not report.
func (c *GPUCollector) device(ch chan<- prometheus.Metric, d gpu.Device) {
	id := []string{strconv.Itoa(d.Index), d.UUID, d.Name}
	with := func(extra ...string) []string { return append(append(make([]string, 0, 5), id...), extra...) }
	gauge := func(desc *prometheus.Desc, v *float64) {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, *v, id...)
		}
	}
	bytes := func(desc *prometheus.Desc, v *uint64) {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(*v), id...)
		}
	}
	counter := func(desc *prometheus.Desc, v *uint64, label string) {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(*v), with(label)...)
		}
	}

	gauge(gpuUtilizationDesc, d.Utilization)
	gauge(gpuMemoryUtilizationDesc, d.MemoryUtilization)
	bytes(gpuMemoryUsedDesc, d.MemoryUsedBytes)
	bytes(gpuMemoryTotalDesc, d.MemoryTotalBytes)
	bytes(gpuMemoryFreeDesc, d.MemoryFreeBytes)
	gauge(gpuTemperatureDesc, d.TemperatureCelsius)
	gauge(gpuPowerDesc, d.PowerWatts)
	gauge(gpuPowerLimitDesc, d.PowerLimitWatts)
	gauge(gpuSMClockDesc, d.SMClockHz)
	gauge(gpuMemoryClockDesc, d.MemoryClockHz)
	if d.Throttle != nil {
		for _, reason := range gpu.ThrottleReasonNames() {
			v := 0.0
			if d.Throttle.Active(reason) {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(gpuThrottleDesc, prometheus.GaugeValue, v, with(reason)...)
		}
	}
	counter(gpuECCDesc, d.ECC.VolatileCorrected, "corrected")
	counter(gpuECCDesc, d.ECC.VolatileUncorrected, "uncorrected")
	counter(gpuECCLifetimeDesc, d.ECC.AggregateCorrected, "corrected")
	counter(gpuECCLifetimeDesc, d.ECC.AggregateUncorrected, "uncorrected")
	for _, p := range d.Processes {
		if p.UsedBytes == nil {
			continue
		}
		unit := ""
		if c.unitOf != nil {
			unit = c.unitOf(p.PID)
		}
		ch <- prometheus.MustNewConstMetric(gpuProcessMemoryDesc, prometheus.GaugeValue, float64(*p.UsedBytes),
			with(strconv.FormatUint(uint64(p.PID), 10), unit)...)
	}
}
