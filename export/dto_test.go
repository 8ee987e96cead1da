package export

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

type kc = gpustep.KernelCount

// dtoMetric is a histogram's count, sum and whether its native buckets are on.
type dtoMetric struct {
	count  uint64
	sum    float64
	native bool
}

func (d *dtoMetric) read(m prometheus.Metric) error {
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		return err
	}
	h := pb.GetHistogram()
	d.count, d.sum = h.GetSampleCount(), h.GetSampleSum()
	d.native = h.Schema != nil
	return nil
}
