package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
)

// DefaultRoot is where the kernel's procfs is mounted on the host.
const DefaultRoot = "/proc"

// ErrGone reports that a process exited (or never existed) while it was being read.
// Errors wrapping it also wrap the underlying fs.ErrNotExist or ESRCH.
var ErrGone = errors.New("process gone")

// FS reads one procfs tree. The zero value reads /proc.
type FS struct {
	// Root is the procfs mount point; "" means DefaultRoot. Tests point it at a fixture.
	Root string
}

// NewFS returns an FS rooted at root ("" means DefaultRoot).
func NewFS(root string) FS { return FS{Root: root} }

func (f FS) root() string {
	if f.Root == "" {
		return DefaultRoot
	}
	return f.Root
}

// Path joins elements under the root: Path("12", "maps") is /proc/12/maps.
func (f FS) Path(elem ...string) string {
	return filepath.Join(append([]string{f.root()}, elem...)...)
}

func (f FS) pidPath(pid int, elem ...string) string {
	return f.Path(append([]string{strconv.Itoa(pid)}, elem...)...)
}

// PIDs lists the processes (thread group ids) in the tree, ascending. Threads other than
// group leaders are not listed by procfs, though /proc/TID still opens for them.
func (f FS) PIDs() ([]int, error) {
	entries, err := os.ReadDir(f.root())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", f.root(), err)
	}
	pids := make([]int, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || !e.IsDir() {
			continue
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

// isGone reports whether err means the process (or the file of one) no longer exists.
func isGone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// wrap gives err the path as context and, when the process is gone, ErrGone too.
func wrap(op, path string, err error) error {
	if isGone(err) {
		return fmt.Errorf("%s %s: %w: %w", op, path, ErrGone, err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// readFile reads a whole per-process file, mapping a vanished process to ErrGone.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, wrap("read", path, err)
	}
	return b, nil
}
