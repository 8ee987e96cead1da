package procfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLibcuda(t *testing.T) {
	for p, want := range map[string]bool{
		"/usr/lib/x86_64-linux-gnu/libcuda.so.1":         true,
		"/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15": true,
		"/usr/lib64/libcuda.so":                          true,
		"libcuda.so.1":                                   true,
		"/opt/my libs/libcuda.so.1":                      true,
		"/usr/lib/libcudart.so.12":                       false,
		"/usr/lib/libcuda_stub.so":                       false,
		"/usr/local/cuda/lib64/stubs/libcuda.so.1.bak":   false,
		"/usr/lib/libcuda.so.":                           false,
		"/usr/lib/libcuda.so.1.":                         false,
		"/usr/lib/libcuda.so..1":                         false,
		"/usr/lib/libcuda.so.1x":                         false,
		"/usr/lib/libcuda.so.1/other":                    false,
		"/usr/lib/libnvcuda.so.1":                        false,
		"/usr/lib/libcuda.sox":                           false,
		"":                                               false,
	} {
		if got := IsLibcuda(p); got != want {
			t.Errorf("IsLibcuda(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestFindLibFixture(t *testing.T) {
	lib, ok, err := fixture.FindLib(101, IsLibcuda)
	if err != nil || !ok {
		t.Fatalf("101: ok %v err %v", ok, err)
	}
	want := Lib{
		MappedPath: "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
		// no /proc/101/root in the fixture: the executable mapping's map_files entry
		OpenPath: "testdata/proc/101/map_files/7f2000400000-7f2001c00000",
		Dev:      Dev{0, 0x2f}, Inode: 3301, Base: 0x7f2000000000,
	}
	if lib != want {
		t.Errorf("101:\n got  %+v\n want %+v", lib, want)
	}

	lib, ok, err = fixture.FindLib(102, IsLibcuda)
	if err != nil || !ok {
		t.Fatalf("102: ok %v err %v", ok, err)
	}
	if lib.MappedPath != "/opt/my libs/libcuda.so.1" || !lib.Deleted || lib.Base != 0x7f4000000000 ||
		lib.OpenPath != "testdata/proc/102/map_files/7f4000400000-7f4001c00000" || lib.Dev != (Dev{0xfd, 1}) {
		t.Errorf("102: %+v", lib)
	}

	for _, pid := range []int{100, 103, 304} {
		if lib, ok, err := fixture.FindLib(pid, IsLibcuda); ok || err != nil {
			t.Errorf("%d: found %+v, err %v; want not found", pid, lib, err)
		}
	}
	if _, ok, err := fixture.FindLib(104, IsLibcuda); ok || err == nil || errors.Is(err, ErrGone) {
		t.Errorf("104 (unopenable): ok %v err %v; want a plain error", ok, err)
	} else if !strings.Contains(err.Error(), "/usr/lib/libcuda.so") || !strings.Contains(err.Error(), "map_files") {
		t.Errorf("104: error %q names neither the library nor map_files", err)
	}
	if _, _, err := fixture.FindLib(999, IsLibcuda); !errors.Is(err, ErrGone) {
		t.Errorf("999: err %v, want ErrGone", err)
	}
}

// TestFindLibOpenPath builds a /proc/PID with a container root holding a real libcuda, so
// that the dev and inode checks run against real files.
func TestFindLibOpenPath(t *testing.T) {
	const mapped = "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
	setup := func(t *testing.T) (fs FS, rootfs string, dev Dev, ino uint64) {
		dir := t.TempDir()
		rootfs = filepath.Join(dir, "rootfs")
		lib := filepath.Join(rootfs, mapped)
		must(t, os.MkdirAll(filepath.Dir(lib), 0o755))
		must(t, os.WriteFile(lib, []byte("\x7fELF driver v1"), 0o644))
		must(t, os.MkdirAll(filepath.Join(dir, "proc/7/map_files"), 0o755))
		// /proc/PID/root is a link to the container's root, as procfs shows it
		must(t, os.Symlink(rootfs, filepath.Join(dir, "proc/7/root")))
		st, err := os.Stat(lib)
		must(t, err)
		dev, ino = devOf(st), inodeOf(st)
		maps := fmt.Sprintf("7f0000000000-7f0000010000 r--p 00000000 %v %d %s\n"+
			"7f0000010000-7f0000050000 r-xp 00010000 %v %d %s\n", dev, ino, mapped, dev, ino, mapped)
		must(t, os.WriteFile(filepath.Join(dir, "proc/7/maps"), []byte(maps), 0o644))
		return FS{Root: filepath.Join(dir, "proc")}, rootfs, dev, ino
	}

	t.Run("root path", func(t *testing.T) {
		fs, _, dev, ino := setup(t)
		lib, ok, err := fs.FindLib(7, IsLibcuda)
		if err != nil || !ok {
			t.Fatalf("ok %v err %v", ok, err)
		}
		want := Lib{MappedPath: mapped, OpenPath: fs.Path("7", "root", mapped), Dev: dev, Inode: ino, Base: 0x7f0000000000}
		if lib != want {
			t.Errorf("got  %+v\nwant %+v", lib, want)
		}
	})

	t.Run("replaced file falls back to map_files", func(t *testing.T) {
		fs, rootfs, _, ino := setup(t)
		lib := filepath.Join(rootfs, mapped)
		kept := filepath.Join(rootfs, "..", "kept")
		must(t, os.Link(lib, kept)) // the mapping keeps the old inode alive
		must(t, os.WriteFile(lib+".new", []byte("\x7fELF driver v2"), 0o644))
		must(t, os.Rename(lib+".new", lib))
		must(t, os.Symlink(kept, fs.Path("7", "map_files", "7f0000010000-7f0000050000")))
		got, ok, err := fs.FindLib(7, IsLibcuda)
		if err != nil || !ok {
			t.Fatalf("ok %v err %v", ok, err)
		}
		if got.OpenPath != fs.Path("7", "map_files", "7f0000010000-7f0000050000") {
			t.Errorf("OpenPath %q, want the executable mapping's map_files entry", got.OpenPath)
		}
		st, err := os.Stat(got.OpenPath)
		must(t, err)
		if inodeOf(st) != ino {
			t.Errorf("OpenPath opens inode %d, mapping is inode %d", inodeOf(st), ino)
		}
	})

	t.Run("neither opens", func(t *testing.T) {
		fs, rootfs, _, _ := setup(t)
		must(t, os.Remove(filepath.Join(rootfs, mapped)))
		_, ok, err := fs.FindLib(7, IsLibcuda)
		if ok || err == nil || errors.Is(err, ErrGone) {
			t.Fatalf("ok %v err %v; want a plain error", ok, err)
		}
	})

	t.Run("process gone", func(t *testing.T) {
		fs, _, _, _ := setup(t)
		_, _, err := fs.FindLib(8, IsLibcuda)
		if !errors.Is(err, ErrGone) {
			t.Fatalf("err %v, want ErrGone", err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
