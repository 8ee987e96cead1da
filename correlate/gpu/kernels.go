package gpustep

// OtherKernels is the name under which launches past a top-N or past
// Config.KernelSlots are summed.
const OtherKernels = "other"

// UnknownKernel names launches whose handle was never resolved to a name.
const UnknownKernel = "unknown"

// kernelTable interns a process's kernel names (at most slots of them) and counts their
// launches; launches of names past the slots are counted in overflow.
type kernelTable struct {
	ids      map[string]int32
	names    []string
	counts   []uint64
	slots    int
	overflow uint64
}

// launch counts one launch of name and returns its id, or -1 when it has no slot.
func (k *kernelTable) launch(name string) int32 {
	id, ok := k.ids[name]
	if !ok {
		if len(k.names) >= k.slots {
			k.overflow++
			return -1
		}
		if k.ids == nil {
			k.ids = make(map[string]int32)
		}
		id = int32(len(k.names))
		k.ids[name] = id
		k.names = append(k.names, name)
		k.counts = append(k.counts, 0)
	}
	k.counts[id]++
	return id
}

// top returns the n most launched names, most first, ties by name, and the rest, with the
// overflow, summed as OtherKernels when non-zero. Nil when nothing was launched.
func (k *kernelTable) top(n int) []KernelCount {
	var t topN
	t.init(n)
	for id, c := range k.counts {
		t.offer(KernelCount{Name: k.names[id], Count: c})
	}
	return t.result(k.overflow)
}

// stepKernels counts one open step's launches by kernel id.
type stepKernels struct {
	counts  []uint64 // by kernel id
	touched []int32  // the ids counted, in first-launch order
	other   uint64   // launches of names without an id
}

func (s *stepKernels) add(id int32) {
	if id < 0 {
		s.other++
		return
	}
	if int(id) >= len(s.counts) {
		s.counts = append(s.counts, make([]uint64, int(id)+1-len(s.counts))...)
	}
	if s.counts[id] == 0 {
		s.touched = append(s.touched, id)
	}
	s.counts[id]++
}

// take returns the step's n most launched names (as kernelTable.top) and resets the counts.
func (s *stepKernels) take(names []string, n int) []KernelCount {
	var t topN
	t.init(n)
	for _, id := range s.touched {
		t.offer(KernelCount{Name: names[id], Count: s.counts[id]})
		s.counts[id] = 0
	}
	s.touched = s.touched[:0]
	other := s.other
	s.other = 0
	return t.result(other)
}

func (s *stepKernels) reset() {
	for _, id := range s.touched {
		s.counts[id] = 0
	}
	s.touched = s.touched[:0]
	s.other = 0
}

// topN keeps the n best KernelCounts offered, sorted, and sums the rest.
type topN struct {
	n     int
	best  []KernelCount
	rest  uint64
	total int
}

func (t *topN) init(n int) { t.n = n }

func better(a, b KernelCount) bool {
	return a.Count > b.Count || a.Count == b.Count && a.Name < b.Name
}

func (t *topN) offer(k KernelCount) {
	t.total++
	if len(t.best) == t.n {
		last := t.best[t.n-1]
		if !better(k, last) {
			t.rest += k.Count
			return
		}
		t.rest += last.Count
		t.best = t.best[:t.n-1]
	}
	if t.best == nil {
		t.best = make([]KernelCount, 0, t.n+1)
	}
	i := len(t.best)
	t.best = append(t.best, k)
	for ; i > 0 && better(k, t.best[i-1]); i-- {
		t.best[i] = t.best[i-1]
	}
	t.best[i] = k
}

func (t *topN) result(overflow uint64) []KernelCount {
	if other := t.rest + overflow; other > 0 {
		if t.best == nil {
			t.best = make([]KernelCount, 0, 1)
		}
		t.best = append(t.best, KernelCount{Name: OtherKernels, Count: other})
	}
	return t.best
}
