package export

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// UnitLabeler names the Kubernetes place of a serving unit: its namespace, pod and
// container, each "" when unknown or outside Kubernetes. It is called from the pipe
// goroutine and from scrapes, so it must be cheap and safe for concurrent use.
type UnitLabeler func(unit string) (namespace, pod, container string)

// unitLabels are the labels every unit-level metric starts with (docs/metrics.md).
var unitLabels = []string{"unit", "namespace", "pod", "container"}

func (l UnitLabeler) values(unit string, extra ...string) []string {
	var ns, pod, ctr string
	if l != nil {
		ns, pod, ctr = l(unit)
	}
	return append([]string{unit, ns, pod, ctr}, extra...)
}

func withUnit(extra ...string) []string {
	return append(append(make([]string, 0, len(unitLabels)+len(extra)), unitLabels...), extra...)
}

// Bucket boundaries of the latency histograms (docs/metrics.md).
var (
	// TTFTBuckets: 10 ms to a minute.
	TTFTBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30, 60}
	// TPOTBuckets: 1 ms to 1 s, for TPOT and inter-token latency.
	TPOTBuckets = []float64{0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1}
	// E2EBuckets: the TTFT buckets plus 2 and 5 minutes, for E2E, the phases and steps.
	E2EBuckets = append(append([]float64{}, TTFTBuckets...), 120, 300)
	// BatchBuckets: requests that got a token from one step.
	BatchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
)

// Native histogram settings: buckets grow by at most 10% from one to the next, at most
// 160 of them per series (past that the resolution halves), reset at most once an hour.
const (
	nativeFactor   = 1.1
	nativeMaxBkts  = 160
	nativeMinReset = 3600 // seconds
)

func histogram(name, help string, buckets []float64, native bool, labels ...string) *prometheus.HistogramVec {
	opts := prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}
	if native {
		opts.NativeHistogramBucketFactor = nativeFactor
		opts.NativeHistogramMaxBucketNumber = nativeMaxBkts
		opts.NativeHistogramMinResetDuration = nativeMinReset * 1e9
	}
	return prometheus.NewHistogramVec(opts, labels)
}

// statusCode is the code label of a request: its HTTP status, "" when none was sent.
func statusCode(s *int) string {
	if s == nil {
		return ""
	}
	return strconv.Itoa(*s)
}

// PodLabels caches the Kubernetes names of serving units: Update runs on the correlator's
// goroutine with each containerised unit's cgroup path, Labeler answers from the cache on
// any goroutine. A unit not (yet) known has empty names.
type PodLabels struct {
	resolve func(cgroup string) (namespace, pod, container string, ok bool)
	mu      sync.RWMutex
	m       map[string][3]string
	cgroup  map[string]string // the cgroup each entry was resolved from
}

// NewPodLabels returns an empty cache over resolve (k8s.Resolver.Labels, adapted).
func NewPodLabels(resolve func(cgroup string) (namespace, pod, container string, ok bool)) *PodLabels {
	return &PodLabels{resolve: resolve, m: map[string][3]string{}, cgroup: map[string]string{}}
}

// Update resolves the units whose cgroup is new (unit -> cgroup path).
func (p *PodLabels) Update(units map[string]string) {
	for unit, cg := range units {
		p.mu.RLock()
		same := p.cgroup[unit] == cg
		p.mu.RUnlock()
		if same {
			continue
		}
		ns, pod, ctr, ok := p.resolve(cg)
		if !ok {
			continue // not in a pod, or its names are not readable yet: try again next time
		}
		p.mu.Lock()
		p.m[unit], p.cgroup[unit] = [3]string{ns, pod, ctr}, cg
		p.mu.Unlock()
	}
}

// Labeler is the cache as a UnitLabeler.
func (p *PodLabels) Labeler() UnitLabeler {
	return func(unit string) (string, string, string) {
		p.mu.RLock()
		l := p.m[unit]
		p.mu.RUnlock()
		return l[0], l[1], l[2]
	}
}
