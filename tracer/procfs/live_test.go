package procfs

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// live is the host's /proc; these tests read the test process itself, so need no root.
var live = FS{}

func liveOnly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no procfs on " + runtime.GOOS)
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("procfs not mounted at /proc: " + err.Error())
	}
}

func TestLiveSelf(t *testing.T) {
	liveOnly(t)
	pid := os.Getpid()
	pids, err := live.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, pid) {
		t.Errorf("PIDs (%d of them) lack our pid %d", len(pids), pid)
	}
	st, err := live.Stat(pid)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	comm := filepath.Base(exe)
	if len(comm) > 15 {
		comm = comm[:15]
	}
	if st.PID != pid || st.PPID != os.Getppid() || st.Comm != comm || st.NumThreads < 1 {
		t.Errorf("Stat = %+v, want pid %d ppid %d comm %q", st, pid, os.Getppid(), comm)
	}

	// every thread of ours (the Go runtime always runs several) maps back to our pid
	tasks, err := os.ReadDir(live.Path(strconv.Itoa(pid), "task"))
	must(t, err)
	others := 0
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		if tid != pid {
			others++
		}
		if tg, err := live.TGID(tid); errors.Is(err, ErrGone) {
			continue // the thread ended since the listing
		} else if err != nil || tg != pid {
			t.Errorf("TGID(%d) = %d, %v; want %d", tid, tg, err, pid)
		}
	}
	if others == 0 {
		t.Errorf("no thread besides the leader in %d tasks", len(tasks))
	}

	cg, err := live.Cgroup(pid)
	if err != nil || !strings.HasPrefix(cg, "/") {
		t.Errorf("Cgroup = %q, %v", cg, err)
	}

	// the test binary is mapped, and opens through /proc/PID/root as the same file
	exeStat, err := os.Stat(exe)
	must(t, err)
	lib, ok, err := live.FindLib(pid, func(p string) bool { return p == exe })
	if err != nil || !ok {
		t.Fatalf("FindLib(test binary): ok %v err %v", ok, err)
	}
	if lib.Inode != inodeOf(exeStat) || lib.Dev != devOf(exeStat) || lib.Base == 0 ||
		lib.OpenPath != filepath.Join("/proc", strconv.Itoa(pid), "root", exe) {
		t.Errorf("FindLib(test binary) = %+v; binary is dev %v inode %d", lib, devOf(exeStat), inodeOf(exeStat))
	}

	p, err := live.Process(pid)
	if err != nil {
		t.Fatal(err)
	}
	now, err := MonotonicNS()
	must(t, err)
	// we started before now, and not long ago (a tick of resolution)
	if p.StartNS > now || now-p.StartNS > uint64(10*time.Minute) {
		t.Errorf("StartNS %d, monotonic now %d: started %v ago", p.StartNS, now, time.Duration(now-p.StartNS))
	}
	if p.HasLibcuda {
		t.Errorf("the test binary maps a libcuda: %+v", p.Libcuda)
	}
}

func TestLiveListeners(t *testing.T) {
	liveOnly(t)
	l4, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer l4.Close()
	sock := filepath.Join(t.TempDir(), "engine ipc.sock")
	lu, err := net.Listen("unix", sock)
	must(t, err)
	defer lu.Close()
	// an established connection is not a listener
	c, err := net.Dial("tcp4", l4.Addr().String())
	must(t, err)
	defer c.Close()
	want := []Listener{
		{Family: "tcp", Addr: netip.MustParseAddr("127.0.0.1"), Port: uint16(l4.Addr().(*net.TCPAddr).Port)},
		{Family: "unix", Path: sock},
	}
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		defer l6.Close()
		want = append(want, Listener{Family: "tcp6", Addr: netip.MustParseAddr("::1"), Port: uint16(l6.Addr().(*net.TCPAddr).Port)})
	} else {
		t.Logf("no IPv6 loopback (%v): tcp6 not checked", err)
	}
	got, err := live.Listeners(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		i := slices.IndexFunc(got, func(l Listener) bool {
			return l.Family == w.Family && l.Addr == w.Addr && l.Port == w.Port && l.Path == w.Path
		})
		if i < 0 {
			t.Errorf("Listeners lacks %+v; got %+v", w, got)
		} else if got[i].Inode == 0 {
			t.Errorf("listener %+v has no inode", got[i])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d listeners, want %d: %+v", len(got), len(want), got)
	}
}

func TestLiveTree(t *testing.T) {
	liveOnly(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh: " + err.Error())
	}
	cmd := exec.Command(sh, "-c", "sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	var buf [32]byte
	n, _ := out.Read(buf[:])
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	must(t, err)
	defer func() {
		_ = syscall.Kill(grandchild, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	// the forked sh becomes sleep at its exec: wait for it
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s, err := live.Stat(grandchild); err == nil && s.Comm == "sleep" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("grandchild %d never became sleep: %+v, %v", grandchild, s, err)
		}
	}
	tr, err := live.Tree()
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	if got := tr.Children(self); !slices.Contains(got, cmd.Process.Pid) {
		t.Errorf("Children(%d) = %v, want sh %d among them", self, got, cmd.Process.Pid)
	}
	if got, want := tr.Descendants(cmd.Process.Pid), []int{grandchild}; !slices.Equal(got, want) {
		t.Errorf("Descendants(sh %d) = %v, want %v", cmd.Process.Pid, got, want)
	}
	if s, ok := tr.Stat(grandchild); !ok || s.Comm != "sleep" || s.PPID != cmd.Process.Pid {
		t.Errorf("Stat(sleep %d) = %+v, %v", grandchild, s, ok)
	}
}
