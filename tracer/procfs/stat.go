package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stat is what the tracer uses of /proc/PID/stat.
type Stat struct {
	PID int
	// Comm is the thread name (at most 15 bytes, TASK_COMM_LEN-1), as the kernel prints it:
	// it may hold spaces, parentheses and even newlines.
	Comm  string
	State byte // R, S, D, Z, T, t, X, I...
	PPID  int  // parent's thread group id; 0 for init and kernel threads
	PGRP  int
	// NumThreads counts the threads of the group.
	NumThreads int
	// StartTicks is the start time in clock ticks (USER_HZ) since boot, CLOCK_BOOTTIME.
	StartTicks uint64
}

// statFields is how many fields follow the comm up to and including starttime (field 22).
const statFields = 20

// ParseStat parses the contents of /proc/PID/stat. The comm is taken between the first
// '(' and the last ')', since the comm itself may contain both.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, errors.New("stat: no (comm)")
	}
	var s Stat
	pid, err := strconv.ParseUint(string(bytes.TrimSpace(b[:open])), 10, 31)
	if err != nil || pid == 0 {
		return Stat{}, fmt.Errorf("stat: bad pid %q", b[:open])
	}
	s.PID = int(pid)
	s.Comm = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	if len(f) < statFields {
		return Stat{}, fmt.Errorf("stat: %d fields after comm, want at least %d", len(f), statFields)
	}
	if len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("stat: bad state %q", f[0])
	}
	s.State = f[0][0]
	ints := []struct {
		dst *int
		i   int
		nm  string
	}{{&s.PPID, 1, "ppid"}, {&s.PGRP, 2, "pgrp"}, {&s.NumThreads, 17, "num_threads"}}
	for _, x := range ints {
		v, err := strconv.ParseUint(f[x.i], 10, 31)
		if err != nil {
			return Stat{}, fmt.Errorf("stat: bad %s %q", x.nm, f[x.i])
		}
		*x.dst = int(v)
	}
	if s.StartTicks, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("stat: bad starttime %q", f[19])
	}
	return s, nil
}

// Stat reads /proc/PID/stat. A zombie still has one; a reaped process gives ErrGone.
func (f FS) Stat(pid int) (Stat, error) {
	p := f.pidPath(pid, "stat")
	b, err := readFile(p)
	if err != nil {
		return Stat{}, err
	}
	s, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("parse %s: %w", p, err)
	}
	return s, nil
}

// TGID returns the thread group id (the process) of a thread, from /proc/TID/status.
// /proc/TID opens for any thread although only group leaders are listed.
func (f FS) TGID(tid int) (int, error) {
	p := f.pidPath(tid, "status")
	b, err := readFile(p)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "Tgid:")
		if !ok {
			continue
		}
		tgid, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || tgid <= 0 {
			return 0, fmt.Errorf("parse %s: bad Tgid %q", p, v)
		}
		return tgid, nil
	}
	return 0, fmt.Errorf("parse %s: no Tgid line", p)
}
