package gpu

import (
	"errors"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/inferprobe/inferprobe/gpu/gputest"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		ret     nvml.Return
		ok      bool
		wantErr string
	}{
		{nvml.SUCCESS, true, ""},
		{nvml.ERROR_NOT_SUPPORTED, false, ""},
		{nvml.ERROR_FUNCTION_NOT_FOUND, false, ""},
		{nvml.ERROR_GPU_IS_LOST, false, "nvml temperature gpu 3: ERROR_GPU_IS_LOST"},
		{nvml.ERROR_NO_PERMISSION, false, "nvml temperature gpu 3: ERROR_NO_PERMISSION"},
		{nvml.ERROR_TIMEOUT, false, "nvml temperature gpu 3: ERROR_TIMEOUT"},
	} {
		ok, err := check(c.ret, "temperature gpu 3")
		if ok != c.ok {
			t.Errorf("%v: ok %v, want %v", c.ret, ok, c.ok)
		}
		if c.wantErr == "" {
			if err != nil {
				t.Errorf("%v: error %v, want none", c.ret, err)
			}
			continue
		}
		if err == nil || err.Error() != c.wantErr {
			t.Errorf("%v: error %v, want %q", c.ret, err, c.wantErr)
		}
		if !errors.Is(err, c.ret) {
			t.Errorf("%v: error does not wrap the return code", c.ret)
		}
	}
}

// A host without libnvidia-ml: ErrNoNVML, exactly, with its sentence.
func TestNoNVMLLibraryMissing(t *testing.T) {
	s, err := New(Options{LibraryPath: "libnvidia-ml-absent.so.1"})
	if s != nil || err != ErrNoNVML {
		t.Fatalf("New = %v, %v; want nil, ErrNoNVML", s, err)
	}
	if want := "gpu health off: NVML not found (no NVIDIA driver on this host)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// The default library: on this host (no NVIDIA driver) ErrNoNVML; on a GPU host the
// sampler reads the real GPUs and the test checks what any GPU reports.
func TestHostNVML(t *testing.T) {
	s, err := New(Options{})
	if errors.Is(err, ErrNoNVML) {
		if !strings.HasPrefix(err.Error(), "gpu health off: NVML not found (no NVIDIA driver on this host)") {
			t.Errorf("message %q", err)
		}
		t.Logf("no NVML here, as expected without a driver: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	devs, err := s.Sample()
	if err != nil {
		t.Errorf("Sample: %v", err)
	}
	if len(devs) == 0 {
		t.Fatal("NVML up but no GPU")
	}
	for _, d := range devs {
		if !strings.HasPrefix(d.UUID, "GPU-") || d.Name == "" {
			t.Errorf("gpu %d: uuid %q name %q", d.Index, d.UUID, d.Name)
		}
		if d.MemoryTotalBytes == nil || *d.MemoryTotalBytes < 1<<30 {
			t.Errorf("gpu %d: total memory %v", d.Index, d.MemoryTotalBytes)
		}
		if d.Utilization != nil && (*d.Utilization < 0 || *d.Utilization > 1) {
			t.Errorf("gpu %d: utilization %v outside 0..1", d.Index, *d.Utilization)
		}
		if d.SMClockHz != nil && (*d.SMClockHz < 1e8 || *d.SMClockHz > 5e9) {
			t.Errorf("gpu %d: sm clock %v Hz", d.Index, *d.SMClockHz)
		}
		if d.PowerWatts != nil && (*d.PowerWatts <= 0 || *d.PowerWatts > 2000) {
			t.Errorf("gpu %d: power %v W", d.Index, *d.PowerWatts)
		}
		t.Logf("gpu %d %s %s: %+v", d.Index, d.UUID, d.Name, d)
	}
}

func TestInitErrors(t *testing.T) {
	for _, c := range []struct {
		ret     nvml.Return
		noNVML  bool
		wantErr string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, true, "gpu health off: NVML not found (no NVIDIA driver on this host)"},
		{nvml.ERROR_DRIVER_NOT_LOADED, true, "gpu health off: NVML not found (no NVIDIA driver on this host): nvml init: ERROR_DRIVER_NOT_LOADED"},
		{nvml.ERROR_NO_PERMISSION, false, "nvml init: ERROR_NO_PERMISSION"},
	} {
		srv := gputest.New()
		srv.FailServer("Init", c.ret)
		_, err := New(Options{Library: srv})
		if err == nil || err.Error() != c.wantErr {
			t.Errorf("%v: error %v, want %q", c.ret, err, c.wantErr)
		}
		if errors.Is(err, ErrNoNVML) != c.noNVML {
			t.Errorf("%v: errors.Is(ErrNoNVML) = %v", c.ret, !c.noNVML)
		}
	}
	srv := gputest.New()
	srv.FailServer("DeviceGetCount", nvml.ERROR_UNKNOWN)
	if _, err := New(Options{Library: srv}); err == nil || err.Error() != "nvml device count: ERROR_UNKNOWN" {
		t.Errorf("device count error %v", err)
	}
	if srv.Shutdowns() != 1 {
		t.Errorf("%d shutdowns after a failed New, want 1", srv.Shutdowns())
	}
}

// A loader that panics (go-nvml's dlopen path) is ErrNoNVML, not a crash.
func TestInitPanics(t *testing.T) {
	srv := gputest.New()
	srv.InitFunc = func() nvml.Return { panic("dlopen exploded") }
	_, err := New(Options{Library: srv})
	if !errors.Is(err, ErrNoNVML) || !strings.Contains(err.Error(), "dlopen exploded") {
		t.Errorf("error %v", err)
	}
}
