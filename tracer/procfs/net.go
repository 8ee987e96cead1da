package procfs

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Listener is a listening socket a process holds an fd of.
type Listener struct {
	Inode  uint64
	Family string     // "tcp", "tcp6" or "unix"
	Addr   netip.Addr // tcp and tcp6: the bound address (0.0.0.0 or :: for any)
	Port   uint16     // tcp and tcp6
	// Path is the unix socket's path; abstract names start with '@' (the kernel prints
	// their NUL bytes as '@'); "" for an unnamed socket.
	Path string
}

const (
	tcpListen    = 0x0a    // TCP_LISTEN, include/net/tcp_states.h
	soAcceptConn = 0x10000 // __SO_ACCEPTCON, include/linux/net.h: the unix socket listens
)

// Listeners returns the listening TCP (v4 and v6) and unix sockets pid holds, sorted by
// family, port, path, inode. It matches the socket inodes of /proc/PID/fd against
// /proc/PID/net/{tcp,tcp6,unix}, which show the process's own network namespace.
// Reading another process's fds needs ptrace access (root, or CAP_SYS_PTRACE).
func (f FS) Listeners(pid int) ([]Listener, error) {
	socks, err := f.socketInodes(pid)
	if err != nil || len(socks) == 0 {
		return nil, err
	}
	var out []Listener
	for _, t := range []struct {
		family string
		parse  func([]byte) ([]Listener, error)
	}{
		{"tcp", func(b []byte) ([]Listener, error) { return ParseNetTCP(b, "tcp") }},
		{"tcp6", func(b []byte) ([]Listener, error) { return ParseNetTCP(b, "tcp6") }},
		{"unix", ParseNetUnix},
	} {
		p := f.pidPath(pid, "net", t.family)
		b, err := os.ReadFile(p)
		if err != nil {
			// A kernel without IPv6 has no tcp6; anything else missing means the
			// process is gone.
			if t.family == "tcp6" && isGone(err) {
				if _, serr := os.Stat(f.pidPath(pid)); serr == nil {
					continue
				}
			}
			return nil, wrap("read", p, err)
		}
		ls, err := t.parse(b)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		for _, l := range ls {
			if socks[l.Inode] {
				out = append(out, l)
			}
		}
	}
	slices.SortFunc(out, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Family, b.Family), cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Inode, b.Inode))
	})
	return out, nil
}

// socketInodes reads the "socket:[INODE]" links of /proc/PID/fd.
func (f FS) socketInodes(pid int) (map[uint64]bool, error) {
	dir := f.pidPath(pid, "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, wrap("list", dir, err)
	}
	socks := make(map[uint64]bool)
	for _, e := range ents {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			if isGone(err) {
				continue // closed since the listing
			}
			return nil, wrap("readlink", dir+"/"+e.Name(), err)
		}
		s, ok := strings.CutPrefix(target, "socket:[")
		if s, ok2 := strings.CutSuffix(s, "]"); ok && ok2 {
			if ino, err := strconv.ParseUint(s, 10, 64); err == nil {
				socks[ino] = true
			}
		}
	}
	return socks, nil
}

// ParseNetTCP returns the listening sockets (state 0A) of a /proc/net/tcp or tcp6 table;
// family ("tcp" or "tcp6") says which, and is copied into each Listener.
func ParseNetTCP(b []byte, family string) ([]Listener, error) {
	addrLen := 8
	if family == "tcp6" {
		addrLen = 32
	} else if family != "tcp" {
		return nil, fmt.Errorf("net tcp: bad family %q", family)
	}
	var out []Listener
	err := eachRow(b, strings.Fields, func(f []string) error {
		if len(f) < 10 {
			return fmt.Errorf("%d fields, want at least 10", len(f))
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return fmt.Errorf("bad state %q", f[3])
		}
		if st != tcpListen {
			return nil
		}
		hexAddr, hexPort, ok := strings.Cut(f[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil || len(hexAddr) != addrLen {
			return fmt.Errorf("bad local address %q", f[1])
		}
		addr, err := parseHexAddr(hexAddr)
		if err != nil {
			return fmt.Errorf("bad local address %q", f[1])
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return fmt.Errorf("bad inode %q", f[9])
		}
		out = append(out, Listener{Inode: ino, Family: family, Addr: addr, Port: uint16(port)})
		return nil
	})
	return out, err
}

// parseHexAddr decodes the kernel's address text: each 32-bit word of the network-order
// address printed with %08X as a native-endian integer.
func parseHexAddr(s string) (netip.Addr, error) {
	var raw [16]byte
	for i := 0; i < len(s)/8; i++ {
		w, err := strconv.ParseUint(s[i*8:i*8+8], 16, 32)
		if err != nil {
			return netip.Addr{}, err
		}
		binary.NativeEndian.PutUint32(raw[i*4:], uint32(w))
	}
	if len(s) == 8 {
		return netip.AddrFrom4([4]byte(raw[:4])), nil
	}
	return netip.AddrFrom16(raw), nil
}

// ParseNetUnix returns the listening sockets (flag __SO_ACCEPTCON) of /proc/net/unix.
func ParseNetUnix(b []byte) ([]Listener, error) {
	var out []Listener
	err := eachRow(b, unixFields, func(f []string) error {
		if len(f) < 7 {
			return fmt.Errorf("%d fields, want at least 7", len(f))
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil {
			return fmt.Errorf("bad flags %q", f[3])
		}
		ino, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			return fmt.Errorf("bad inode %q", f[6])
		}
		if flags&soAcceptConn == 0 {
			return nil
		}
		out = append(out, Listener{Inode: ino, Family: "unix", Path: pathField(f)})
		return nil
	})
	return out, err
}

// eachRow calls fn with the fields (as split splits them) of each line after the header.
func eachRow(b []byte, split func(string) []string, fn func(f []string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if n == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		if err := fn(split(sc.Text())); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	return nil
}

// unixFields splits a /proc/net/unix row into its seven fields and the path, which may
// hold spaces and is the rest of the line ("" for an unnamed socket).
func unixFields(line string) []string {
	f := make([]string, 0, 8)
	rest := line
	for len(f) < 7 {
		rest = strings.TrimLeft(rest, " ")
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			if rest != "" {
				f = append(f, rest)
			}
			return f
		}
		f, rest = append(f, rest[:i]), rest[i:]
	}
	return append(f, strings.TrimLeft(rest, " "))
}

func pathField(f []string) string {
	if len(f) > 7 {
		return f[7]
	}
	return ""
}
