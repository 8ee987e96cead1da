package fakecuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
)

//go:embed *.c *.h Makefile
var sources embed.FS

// The compiler flags, as the Makefile has them (TestMakefileFlagsAgree checks).
var (
	cFlags   = []string{"-O2", "-g", "-Wall", "-Werror", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-fno-shrink-wrap", "-fno-optimize-sibling-calls", "-fno-ipa-icf"}
	libFlags = []string{"-shared", "-fPIC", "-fvisibility=hidden", "-Wl,-soname,libcuda.so.1"}
	libLibs  = []string{"-lpthread"}
	drvLibs  = []string{"-ldl", "-lpthread"}
)

// LibName is the file name (and soname) of the simulated driver.
const LibName = "libcuda.so.1"

// Paths are the built artifacts.
type Paths struct {
	Lib    string // dir/libcuda.so.1
	LibDir string // the folder holding it, for LD_LIBRARY_PATH
	Driver string // dir/cudriver
}

const hashFile = ".fakecuda.hash"

// sourceHash covers every embedded source and the flags, so a change to either rebuilds.
func sourceHash() (string, error) {
	names, err := fs.Glob(sources, "*")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := sources.ReadFile(n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	fmt.Fprintln(h, cFlags, libFlags, libLibs, drvLibs)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func pathsIn(dir string) Paths {
	return Paths{Lib: filepath.Join(dir, LibName), LibDir: dir, Driver: filepath.Join(dir, "cudriver")}
}

func upToDate(dir, hash string) bool {
	b, err := os.ReadFile(filepath.Join(dir, hashFile))
	if err != nil || strings.TrimSpace(string(b)) != hash {
		return false
	}
	p := pathsIn(dir)
	for _, f := range []string{p.Lib, p.Driver} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// Build compiles libcuda.so.1 and cudriver into dir with gcc, unless dir already holds
// the build of these exact sources. Concurrent builds into one dir (test binaries of
// several packages) take turns on a lock file.
func Build(dir string) (Paths, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Paths{}, err
	}
	hash, err := sourceHash()
	if err != nil {
		return Paths{}, fmt.Errorf("hash fakecuda sources: %w", err)
	}
	if upToDate(dir, hash) {
		return pathsIn(dir), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Paths{}, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".fakecuda.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return Paths{}, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return Paths{}, fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if upToDate(dir, hash) {
		return pathsIn(dir), nil
	}
	if err := compile(dir); err != nil {
		return Paths{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, hashFile), []byte(hash+"\n"), 0o644); err != nil {
		return Paths{}, err
	}
	return pathsIn(dir), nil
}

func compile(dir string) error {
	src, err := os.MkdirTemp(dir, ".src-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	names, err := fs.Glob(sources, "*")
	if err != nil {
		return err
	}
	var lib, drv []string
	for _, n := range names {
		b, err := sources.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			return err
		}
		switch {
		case !strings.HasSuffix(n, ".c"):
		case strings.HasPrefix(n, "cudriver"):
			drv = append(drv, n)
		default:
			lib = append(lib, n)
		}
	}
	p := pathsIn(dir)
	libArgs := concat(cFlags, libFlags, []string{"-o", p.Lib + ".tmp"}, lib, libLibs)
	drvArgs := concat(cFlags, []string{"-o", p.Driver + ".tmp"}, drv, drvLibs)
	for _, args := range [][]string{libArgs, drvArgs} {
		cmd := exec.Command("gcc", args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gcc %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Rename(p.Lib+".tmp", p.Lib); err != nil {
		return err
	}
	return os.Rename(p.Driver+".tmp", p.Driver)
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	testOnce  sync.Once
	testPaths Paths
	testErr   error
	errNoGCC  = errors.New("gcc not found")
)

// BuildForTest builds once per test binary into the user's cache
// (os.UserCacheDir()/inferprobe-fakecuda/<hash>), shared by every package's tests. It
// skips the test when gcc is missing and fails it when the build fails.
func BuildForTest(t testing.TB) Paths {
	t.Helper()
	testOnce.Do(func() {
		if _, err := exec.LookPath("gcc"); err != nil {
			testErr = fmt.Errorf("%w: %v", errNoGCC, err)
			return
		}
		hash, err := sourceHash()
		if err != nil {
			testErr = err
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		testPaths, testErr = Build(filepath.Join(cache, "inferprobe-fakecuda", hash[:16]))
	})
	if errors.Is(testErr, errNoGCC) {
		t.Skipf("building the simulated CUDA driver: %v", testErr)
	}
	if testErr != nil {
		t.Fatalf("build fakecuda: %v", testErr)
	}
	return testPaths
}
