package procfs

import (
	"errors"
	"reflect"
	"testing"
)

var fixture = FS{Root: "testdata/proc"}

const tail = " 0 -1 4194560 1200 0 3 0 57 12 0 0 20 0 7 0 98765 1234567890 4321 18446744073709551615 1 1 0\n"

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Stat
		err      bool
	}{
		{"plain", "42 (python3) S 1 42 42" + tail, Stat{42, "python3", 'S', 1, 42, 7, 98765}, false},
		{"spaces and parens", "42 (vllm: api) (x) R 7 9 9" + tail, Stat{42, "vllm: api) (x", 'R', 7, 9, 7, 98765}, false},
		{"newline", "42 (wor\nker) S 7 9 9" + tail, Stat{42, "wor\nker", 'S', 7, 9, 7, 98765}, false},
		{"comm is a paren", "42 ()) Z 7 9 9" + tail, Stat{42, ")", 'Z', 7, 9, 7, 98765}, false},
		{"empty comm", "42 () S 0 0 0" + tail, Stat{42, "", 'S', 0, 0, 7, 98765}, false},
		{"no comm", "42 python3 S 1 42 42" + tail, Stat{}, true},
		{"truncated", "42 (python3) S 1 42 42 0 -1", Stat{}, true},
		{"bad pid", "x (python3) S 1 42 42" + tail, Stat{}, true},
		{"zero pid", "0 (python3) S 1 42 42" + tail, Stat{}, true},
		{"bad ppid", "42 (python3) S -1 42 42" + tail, Stat{}, true},
		{"bad state", "42 (python3) SS 1 42 42" + tail, Stat{}, true},
		{"bad start", "42 (python3) S 1 42 42 0 -1 4194560 1200 0 3 0 57 12 0 0 20 0 7 0 -5 1\n", Stat{}, true},
		{"empty", "", Stat{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFSStat(t *testing.T) {
	for _, tc := range []struct {
		pid  int
		comm string
		ppid int
		st   byte
		thr  int
		tick uint64
	}{
		{1, "systemd", 0, 'S', 1, 2},
		{100, "vllm: api) (x", 1, 'S', 12, 154321},
		{101, "VLLM::EngineCor", 100, 'S', 40, 154400},
		{102, "wor\nker 0", 101, 'S', 8, 154500},
		{200, ")", 1, 'S', 2, 300000},
		{304, "python3", 300, 'Z', 1, 400400},
	} {
		s, err := fixture.Stat(tc.pid)
		if err != nil {
			t.Fatalf("stat %d: %v", tc.pid, err)
		}
		want := Stat{tc.pid, tc.comm, tc.st, tc.ppid, tc.pid, tc.thr, tc.tick}
		if s != want {
			t.Errorf("stat %d = %+v, want %+v", tc.pid, s, want)
		}
	}
	if _, err := fixture.Stat(999); !errors.Is(err, ErrGone) {
		t.Errorf("stat 999: err %v, want ErrGone", err)
	}
}

func TestPIDs(t *testing.T) {
	got, err := fixture.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	want := []int{1, 100, 101, 102, 103, 104, 105, 200, 201, 300, 301, 302, 303, 304}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PIDs = %v, want %v", got, want)
	}
	if _, err := (FS{Root: "testdata/nowhere"}).PIDs(); err == nil {
		t.Error("PIDs of a missing root: no error")
	}
}

func TestTGID(t *testing.T) {
	for tid, want := range map[int]int{100: 100, 105: 101, 1: 1} {
		got, err := fixture.TGID(tid)
		if err != nil || got != want {
			t.Errorf("TGID(%d) = %d, %v; want %d", tid, got, err, want)
		}
	}
	if _, err := fixture.TGID(999); !errors.Is(err, ErrGone) {
		t.Errorf("TGID(999): err %v, want ErrGone", err)
	}
}

func TestStartNS(t *testing.T) {
	for _, tc := range []struct {
		ticks, hz, suspend, want uint64
	}{
		{154321, 100, 0, 1_543_210_000_000},
		{154321, 100, 500_000_000, 1_542_710_000_000},
		{1, 100, 20_000_000, 0},                              // clamps
		{1234, 1000, 0, 1_234_000_000},                       // another hz
		{7, 3, 0, 2_333_333_333},                             // remainder kept
		{1 << 40, 100, 0, (1<<40)/100*1e9 + (1<<40)%100*1e7}, // no overflow
		{5, 0, 0, 0},
	} {
		if got := StartNS(tc.ticks, tc.hz, tc.suspend); got != tc.want {
			t.Errorf("StartNS(%d, %d, %d) = %d, want %d", tc.ticks, tc.hz, tc.suspend, got, tc.want)
		}
	}
}
