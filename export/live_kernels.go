package export

import (
	"sort"

	gpustep "github.com/inferprobe/inferprobe/correlate/gpu"
)

// maxKernelNames bounds the names read per process: what the tracker keeps by default
// (names past it are counted as "other" by the tracker itself).
const maxKernelNames = gpustep.DefaultKernelSlots

// kernelSeries splits a unit's launches per name into the named series and "other".
// Names get a series in order of count while the unit has fewer than topN, and keep it.
func (l *Live) kernelSeries(unit string, counts map[string]uint64) ([]gpustep.KernelCount, uint64) {
	if len(counts) == 0 {
		return nil, 0
	}
	named := l.names[unit]
	if named == nil {
		named = map[string]bool{}
		l.names[unit] = named
	}
	if len(named) < l.topN {
		cands := make([]gpustep.KernelCount, 0, len(counts))
		for name, n := range counts {
			if name != gpustep.OtherKernels && !named[name] {
				cands = append(cands, gpustep.KernelCount{Name: name, Count: n})
			}
		}
		sort.Slice(cands, func(i, j int) bool {
			if cands[i].Count != cands[j].Count {
				return cands[i].Count > cands[j].Count
			}
			return cands[i].Name < cands[j].Name
		})
		for _, k := range cands {
			if len(named) >= l.topN {
				break
			}
			named[k.Name] = true
		}
	}
	var out []gpustep.KernelCount
	var other uint64
	for name, n := range counts {
		if named[name] {
			out = append(out, gpustep.KernelCount{Name: name, Count: n})
		} else {
			other += n
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, other
}
