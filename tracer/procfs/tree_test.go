package procfs

import (
	"reflect"
	"testing"
)

func TestTreeFixture(t *testing.T) {
	tr, err := fixture.Tree()
	if err != nil {
		t.Fatal(err)
	}
	// 105 is a thread's /proc entry without stat: left out like a vanished process
	if got, want := tr.PIDs(), []int{1, 100, 101, 102, 103, 104, 200, 201, 300, 301, 302, 303, 304}; !reflect.DeepEqual(got, want) {
		t.Errorf("PIDs = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		pid              int
		children, descen []int
	}{
		{1, []int{100, 103, 104, 200, 300, 301, 302, 303}, []int{100, 101, 102, 103, 104, 200, 201, 300, 301, 302, 303, 304}},
		{100, []int{101}, []int{101, 102}},
		{101, []int{102}, []int{102}},
		{300, []int{304}, []int{304}},
		{102, nil, nil},
		{999, nil, nil},
	} {
		if got := tr.Children(tc.pid); !reflect.DeepEqual(got, tc.children) {
			t.Errorf("Children(%d) = %v, want %v", tc.pid, got, tc.children)
		}
		if got := tr.Descendants(tc.pid); !reflect.DeepEqual(got, tc.descen) {
			t.Errorf("Descendants(%d) = %v, want %v", tc.pid, got, tc.descen)
		}
	}
	if s, ok := tr.Stat(101); !ok || s.Comm != "VLLM::EngineCor" {
		t.Errorf("Stat(101) = %+v, %v", s, ok)
	}
}

func TestTreeCycle(t *testing.T) {
	// impossible in a live /proc, but a tree built from stats read at different moments
	// (pid reuse) may hold one; Descendants must still end
	tr := NewTree([]Stat{{PID: 2, PPID: 3}, {PID: 3, PPID: 2}, {PID: 4, PPID: 3}, {PID: 5, PPID: 5}})
	if got, want := tr.Descendants(2), []int{3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("Descendants(2) = %v, want %v", got, want)
	}
	if got := tr.Descendants(5); len(got) != 0 {
		t.Errorf("Descendants(5) = %v, want none", got)
	}
}
