package procfs

import (
	"errors"
	"slices"
)

// Tree is the process tree at one moment, built from every process's stat.
type Tree struct {
	stats    map[int]Stat
	children map[int][]int
}

// NewTree builds a Tree from stats (one per process; a later duplicate pid wins).
func NewTree(stats []Stat) *Tree {
	t := &Tree{stats: make(map[int]Stat, len(stats)), children: make(map[int][]int)}
	for _, s := range stats {
		t.stats[s.PID] = s
	}
	for pid, s := range t.stats {
		if s.PPID != pid {
			t.children[s.PPID] = append(t.children[s.PPID], pid)
		}
	}
	for _, c := range t.children {
		slices.Sort(c)
	}
	return t
}

// Tree reads the stat of every process. Processes that exit meanwhile are left out.
func (f FS) Tree() (*Tree, error) {
	pids, err := f.PIDs()
	if err != nil {
		return nil, err
	}
	stats := make([]Stat, 0, len(pids))
	for _, pid := range pids {
		s, err := f.Stat(pid)
		if errors.Is(err, ErrGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		stats = append(stats, s)
	}
	return NewTree(stats), nil
}

// Stat returns the stat the tree holds for pid.
func (t *Tree) Stat(pid int) (Stat, bool) {
	s, ok := t.stats[pid]
	return s, ok
}

// PIDs returns every pid in the tree, ascending.
func (t *Tree) PIDs() []int {
	pids := make([]int, 0, len(t.stats))
	for pid := range t.stats {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// Children returns the direct children of pid, ascending.
func (t *Tree) Children(pid int) []int { return slices.Clone(t.children[pid]) }

// Descendants returns every process below pid (children, their children...), ascending,
// without pid itself.
func (t *Tree) Descendants(pid int) []int {
	var out []int
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range t.children[p] {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	slices.Sort(out)
	return out
}
