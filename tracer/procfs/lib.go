package procfs

import (
	"fmt"
	"os"
	"path"
	"syscall"
)

// Lib is a shared library mapped by a process, and how to open it from the host.
type Lib struct {
	// MappedPath is the library's path as the process sees it (inside its container).
	// Never open it directly: the process's root may not be ours.
	MappedPath string
	// OpenPath opens the same file from the agent's mount namespace:
	// /proc/PID/root/MappedPath when that names the mapped file (same dev and inode),
	// else /proc/PID/map_files/START-END of a mapping of it (its executable one when it
	// has one). The second covers a library deleted or replaced since it was mapped, and
	// kernels whose maps show an overlayfs file's underlying dev and inode.
	OpenPath string
	Dev      Dev
	Inode    uint64
	// Base is the start of the file's mapping at offset 0: the address its ELF virtual
	// addresses are relative to for a shared library. 0 when no such mapping exists.
	Base uint64
	// Deleted reports that maps marked the file " (deleted)".
	Deleted bool
}

// SONameMatch returns a matcher for a library by soname stem: for "libcuda.so" it matches
// a path whose base name is exactly "libcuda.so" or "libcuda.so." followed by dot-separated
// numbers ("libcuda.so.1", "libcuda.so.550.54.15"), and not "libcudart.so.12",
// "libcuda_stub.so" or "libcuda.so.1.bak".
func SONameMatch(stem string) func(path string) bool {
	return func(p string) bool {
		base := path.Base(p)
		if base == stem {
			return true
		}
		if len(base) <= len(stem)+1 || base[:len(stem)+1] != stem+"." {
			return false
		}
		prevDot := true
		for _, c := range base[len(stem)+1:] {
			switch {
			case c == '.' && !prevDot:
				prevDot = true
			case c >= '0' && c <= '9':
				prevDot = false
			default:
				return false
			}
		}
		return !prevDot
	}
}

// IsLibcuda matches the CUDA driver library, libcuda.so[.N...].
var IsLibcuda = SONameMatch("libcuda.so")

// FindLib finds the first (lowest-address) file mapping of pid whose path satisfies match,
// gathers the file's other mappings (same dev and inode) and works out a host path that
// opens it. ok is false when no mapping matches. An error with ok false means the library
// is mapped but cannot be opened from here (or the process could not be read).
func (f FS) FindLib(pid int, match func(path string) bool) (lib Lib, ok bool, err error) {
	ms, err := f.Maps(pid)
	if err != nil {
		return Lib{}, false, err
	}
	first := -1
	for i, m := range ms {
		if m.IsFile() && match(m.Path) {
			first = i
			break
		}
	}
	if first < 0 {
		return Lib{}, false, nil
	}
	m := ms[first]
	lib = Lib{MappedPath: m.Path, Dev: m.Dev, Inode: m.Inode, Deleted: m.Deleted}
	pick := m // mapping whose map_files entry is the fallback
	foundBase, foundExec := false, false
	for _, o := range ms[first:] {
		if o.Dev != m.Dev || o.Inode != m.Inode {
			continue
		}
		if o.Offset == 0 && !foundBase {
			lib.Base, foundBase = o.Start, true
		}
		if o.Exec() && !foundExec {
			pick, foundExec = o, true
		}
	}

	rootPath := f.pidPath(pid, "root", m.Path)
	st, rootErr := os.Stat(rootPath)
	if rootErr == nil {
		if sameFile(st, m.Dev, m.Inode) {
			lib.OpenPath = rootPath
			return lib, true, nil
		}
		rootErr = fmt.Errorf("%s is dev %v inode %d, mapping is dev %v inode %d",
			rootPath, devOf(st), inodeOf(st), m.Dev, m.Inode)
	}
	mfPath := f.pidPath(pid, "map_files", pick.MapFilesName())
	if _, err := os.Stat(mfPath); err != nil {
		if _, serr := os.Stat(f.pidPath(pid)); isGone(serr) {
			return Lib{}, false, wrap("stat", f.pidPath(pid), serr)
		}
		return Lib{}, false, fmt.Errorf("open %s of pid %d: %v; %w", m.Path, pid, rootErr, err)
	}
	lib.OpenPath = mfPath
	return lib, true, nil
}

// sameFile reports whether st is the file /proc/PID/maps names by dev and inode.
func sameFile(st os.FileInfo, dev Dev, inode uint64) bool {
	return devOf(st) == dev && inodeOf(st) == inode
}

func inodeOf(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Ino)
	}
	return 0
}

// devOf splits st_dev the way glibc's gnu_dev_major and gnu_dev_minor do (Linux's
// userspace dev_t: 12 bits of major and 20 of minor, split across the 64-bit word).
func devOf(st os.FileInfo) Dev {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return Dev{}
	}
	d := uint64(s.Dev)
	return Dev{
		Major: uint32((d>>8)&0xfff | (d>>32)&0xfffff000),
		Minor: uint32(d&0xff | (d>>12)&0xffffff00),
	}
}
