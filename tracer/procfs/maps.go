package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Dev is a device number as /proc/PID/maps prints it (major:minor, hex).
type Dev struct{ Major, Minor uint32 }

func (d Dev) String() string { return fmt.Sprintf("%02x:%02x", d.Major, d.Minor) }

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uint64 // [Start, End) in the process's address space
	Perms      string // four characters: r/-, w/-, x/-, p (private) or s (shared)
	Offset     uint64 // file offset of Start
	Dev        Dev
	Inode      uint64 // 0 for anonymous memory
	// Path is the mapped file as the process sees it (its root, its mounts), a pseudo
	// name such as "[heap]" or "[anon:name]", or "" for anonymous memory. A newline,
	// which the kernel prints as "\012", is restored; " (deleted)" is cut into Deleted.
	Path string
	// Deleted reports the kernel's " (deleted)" suffix: the file was unlinked or replaced
	// since it was mapped. (A file really named "x (deleted)" reads the same.)
	Deleted bool
}

// Exec reports whether the mapping is executable.
func (m Mapping) Exec() bool { return len(m.Perms) > 2 && m.Perms[2] == 'x' }

// IsFile reports whether a file backs the mapping.
func (m Mapping) IsFile() bool { return m.Inode != 0 && strings.HasPrefix(m.Path, "/") }

// MapFilesName is the mapping's entry in /proc/PID/map_files ("start-end", lowercase hex).
func (m Mapping) MapFilesName() string { return fmt.Sprintf("%x-%x", m.Start, m.End) }

const deletedSuffix = " (deleted)"

// ParseMapsLine parses one line of /proc/PID/maps (without its newline).
func ParseMapsLine(line string) (Mapping, error) {
	var m Mapping
	rest := line
	var fields [5]string
	for i := range fields {
		rest = strings.TrimLeft(rest, " ")
		j := strings.IndexByte(rest, ' ')
		if j < 0 {
			if i < 4 {
				return Mapping{}, fmt.Errorf("maps: %d fields in %q, want at least 5", i+1, line)
			}
			j = len(rest)
		}
		fields[i], rest = rest[:j], rest[j:]
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	var err1, err2 error
	m.Start, err1 = strconv.ParseUint(lo, 16, 64)
	m.End, err2 = strconv.ParseUint(hi, 16, 64)
	if !ok || err1 != nil || err2 != nil || m.End < m.Start {
		return Mapping{}, fmt.Errorf("maps: bad range %q", fields[0])
	}
	if len(fields[1]) != 4 {
		return Mapping{}, fmt.Errorf("maps: bad perms %q", fields[1])
	}
	m.Perms = fields[1]
	var err error
	if m.Offset, err = strconv.ParseUint(fields[2], 16, 64); err != nil {
		return Mapping{}, fmt.Errorf("maps: bad offset %q", fields[2])
	}
	maj, min, ok := strings.Cut(fields[3], ":")
	major, err1 := strconv.ParseUint(maj, 16, 32)
	minor, err2 := strconv.ParseUint(min, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return Mapping{}, fmt.Errorf("maps: bad dev %q", fields[3])
	}
	m.Dev = Dev{uint32(major), uint32(minor)}
	if m.Inode, err = strconv.ParseUint(fields[4], 10, 64); err != nil {
		return Mapping{}, fmt.Errorf("maps: bad inode %q", fields[4])
	}
	path := strings.TrimLeft(rest, " ")
	if p, ok := strings.CutSuffix(path, deletedSuffix); ok && m.Inode != 0 {
		path, m.Deleted = p, true
	}
	m.Path = strings.ReplaceAll(path, `\012`, "\n")
	return m, nil
}

// ParseMaps parses a whole /proc/PID/maps file.
func ParseMaps(b []byte) ([]Mapping, error) {
	var ms []Mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if sc.Text() == "" {
			continue
		}
		m, err := ParseMapsLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("maps: scan: %w", err)
	}
	return ms, nil
}

// Maps reads /proc/PID/maps. A zombie, or a process whose memory is gone, has none.
func (f FS) Maps(pid int) ([]Mapping, error) {
	p := f.pidPath(pid, "maps")
	b, err := readFile(p)
	if err != nil {
		return nil, err
	}
	ms, err := ParseMaps(b)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return ms, nil
}
