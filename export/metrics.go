package export

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inferprobe/inferprobe/correlate"
	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

// Metrics is a correlate.Sink that observes what the correlator finishes into the
// request, step and error series of docs/metrics.md. It is a prometheus.Collector and is
// safe to scrape while the correlator's goroutine feeds it.
type Metrics struct {
	labels UnitLabeler

	ttft, tpot, itl, e2e, phase *prometheus.HistogramVec
	stepSeconds, stepBatch      *prometheus.HistogramVec
	requests                    *prometheus.CounterVec
	outTokens, promptTokens     *prometheus.CounterVec
	cudaErrors                  *prometheus.CounterVec
	stalls                      *prometheus.CounterVec
}

// Request classes, step kinds and phases: the only values their labels take.
var (
	requestClasses = []string{correlate.ClassOK, correlate.ClassRateLimited, correlate.ClassContextLength,
		correlate.ClassBadRequest, correlate.ClassServerError, correlate.ClassAborted, correlate.ClassServerClosed}
	stepKinds = []string{string(gpustep.KindPrefill), string(gpustep.KindDecode)}
)

// NewMetrics returns the request and step series. labels names a unit's pod (nil: none).
func NewMetrics(labels UnitLabeler) *Metrics {
	u := withUnit
	return &Metrics{
		labels: labels,
		ttft: histogram("inferprobe_request_ttft_seconds",
			"Time to first token of streamed requests: first content write minus arrival.", TTFTBuckets, true, u()...),
		tpot: histogram("inferprobe_request_tpot_seconds",
			"Time per output token of streamed requests: (last - first content write) / (tokens - 1).", TPOTBuckets, true, u()...),
		itl: histogram("inferprobe_request_inter_token_seconds",
			"Every gap between two content writes of a streamed response.", TPOTBuckets, true, u()...),
		e2e: histogram("inferprobe_request_e2e_seconds",
			"Arrival to the write that completed the response (or the close that ended it).", E2EBuckets, true, u()...),
		phase: histogram("inferprobe_request_phase_seconds",
			"A request's time in each phase: queue (arrival to its prefill step), prefill (to the first token), decode (to the end).",
			E2EBuckets, true, u("phase")...),
		stepSeconds: histogram("inferprobe_gpu_step_seconds",
			"GPU step duration, first launch to the closing wait's return, by kind prefill or decode.", TPOTBuckets, true, u("kind")...),
		stepBatch: histogram("inferprobe_gpu_step_batch_size",
			"Requests that got a token from a GPU step, by kind.", BatchBuckets, false, u("kind")...),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inferprobe_requests_total",
			Help: "Finished requests by class (ok, rate_limited, context_length, bad_request, server_error, aborted, server_closed) and HTTP status code (empty when none was sent)."},
			u("class", "code")),
		outTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inferprobe_output_tokens_total",
			Help: "Generated tokens: the response's usage.completion_tokens, else its content events."}, u()),
		promptTokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inferprobe_prompt_tokens_total",
			Help: "Prompt tokens, where the response's usage says."}, u()),
		cudaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inferprobe_cuda_errors_total",
			Help: "CUDA driver calls that returned an error, by call, CUresult name and class (oom, sticky_fault, ecc, launch_resources, other)."},
			u("call", "result", "class")),
		stalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "inferprobe_gpu_stalls_total",
			Help: "Blocking waits that lasted longer than the stall threshold (--correlate.stall-after)."}, u()),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.ttft, m.tpot, m.itl, m.e2e, m.phase, m.stepSeconds, m.stepBatch,
		m.requests, m.outTokens, m.promptTokens, m.cudaErrors, m.stalls}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// Request implements correlate.Sink. TTFT, TPOT and inter-token gaps are observed for
// streamed requests only: a non-streamed request's first token is an estimate.
func (m *Metrics) Request(r *correlate.Request) {
	lv := m.labels.values(r.Unit)
	m.requests.WithLabelValues(m.labels.values(r.Unit, oneOf(r.Class, requestClasses, correlate.ClassServerError), statusCode(r.Status))...).Inc()
	if r.OutputTokens != nil {
		m.outTokens.WithLabelValues(lv...).Add(float64(*r.OutputTokens))
	}
	if r.PromptTokens != nil {
		m.promptTokens.WithLabelValues(lv...).Add(float64(*r.PromptTokens))
	}
	if r.Partial {
		return // in flight at the attach: counted, but part of no latency distribution
	}
	if r.E2E != nil {
		m.e2e.WithLabelValues(lv...).Observe(*r.E2E)
	}
	if r.Stream && !r.Estimated {
		if r.TTFT != nil {
			m.ttft.WithLabelValues(lv...).Observe(*r.TTFT)
		}
		if r.TPOT != nil {
			m.tpot.WithLabelValues(lv...).Observe(*r.TPOT)
		}
		if len(r.ITL) > 0 {
			h := m.itl.WithLabelValues(lv...)
			for _, g := range r.ITL {
				h.Observe(g)
			}
		}
	}
	for _, p := range []struct {
		name string
		v    *float64
	}{{"queue", r.Queue}, {"prefill", r.Prefill}, {"decode", r.Decode}} {
		if p.v != nil {
			m.phase.WithLabelValues(m.labels.values(r.Unit, p.name)...).Observe(*p.v)
		}
	}
}

// Step implements correlate.Sink.
func (m *Metrics) Step(s *correlate.Step) {
	kind := oneOf(s.Kind, stepKinds, string(gpustep.KindPrefill))
	lv := m.labels.values(s.Unit, kind)
	m.stepSeconds.WithLabelValues(lv...).Observe(float64(s.EndNS-s.StartNS) / 1e9)
	if s.BatchSize != nil {
		m.stepBatch.WithLabelValues(lv...).Observe(float64(*s.BatchSize))
	}
}

// CUDAError implements correlate.Sink.
func (m *Metrics) CUDAError(unit string, e gpustep.Error) {
	name := e.Name
	if name == "" {
		name = gpustep.ResultName(e.Result)
	}
	m.cudaErrors.WithLabelValues(m.labels.values(unit, e.Call.String(), name, string(e.Class))...).Inc()
}

// Stall implements correlate.Sink.
func (m *Metrics) Stall(unit string, _ gpustep.Stall) {
	m.stalls.WithLabelValues(m.labels.values(unit)...).Inc()
}

// oneOf returns v when it is in set, else def: a label keeps its bounded set of values.
func oneOf(v string, set []string, def string) string {
	for _, s := range set {
		if s == v {
			return v
		}
	}
	return def
}
