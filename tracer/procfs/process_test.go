package procfs

import (
	"errors"
	"testing"
)

func TestProcessFixture(t *testing.T) {
	suspend, err := SuspendNS()
	if err != nil {
		t.Skip(err.Error())
	}
	p, err := fixture.Process(101)
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != 101 || p.PPID != 100 || p.Comm != "VLLM::EngineCor" || p.StartTicks != 154400 ||
		p.Cgroup != "/system.slice/docker-"+id("docker")+".scope" {
		t.Errorf("Process(101) = %+v", p)
	}
	// 154400 ticks is 1544 s of boot time; the suspended time is subtracted (to within
	// the microseconds two measurements of it may differ by)
	want := int64(1_544_000_000_000 - suspend)
	if d := int64(p.StartNS) - want; d > 1e6 || d < -1e6 {
		t.Errorf("StartNS = %d, want %d ± 1ms (suspended %d ns)", p.StartNS, want, suspend)
	}
	if !p.HasLibcuda || p.Libcuda.Inode != 3301 || p.Libcuda.MappedPath != "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15" {
		t.Errorf("Process(101) libcuda %v %+v", p.HasLibcuda, p.Libcuda)
	}

	if p, err := fixture.Process(100); err != nil || p.HasLibcuda || p.Comm != "vllm: api) (x" {
		t.Errorf("Process(100) = %+v, %v; want no libcuda", p, err)
	}
	// libcuda mapped but unopenable: an error, and the rest still filled in
	p, err = fixture.Process(104)
	if err == nil || errors.Is(err, ErrGone) || p.HasLibcuda || p.Comm != "locked" || p.Cgroup != "/system.slice/locked.service" {
		t.Errorf("Process(104) = %+v, %v", p, err)
	}
	if _, err := fixture.Process(999); !errors.Is(err, ErrGone) {
		t.Errorf("Process(999): err %v, want ErrGone", err)
	}
	// 105 is a thread entry without stat
	if _, err := fixture.Process(105); !errors.Is(err, ErrGone) {
		t.Errorf("Process(105): err %v, want ErrGone", err)
	}
}
