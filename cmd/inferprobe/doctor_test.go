package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/inferprobe/inferprobe/gpu"
)

// fakeHost is a host for doctor's checks.
type fakeHost struct {
	release string
	euid    int
	caps    uint64
	capsErr error
	paths   map[string]bool
	bpfErr  error
	procs   []cudaProcess
	unread  int
	gpus    []string
	gpuErr  error
}

func (f fakeHost) KernelRelease() (string, error) { return f.release, nil }
func (f fakeHost) EUID() int                      { return f.euid }
func (f fakeHost) CapEff() (uint64, error)        { return f.caps, f.capsErr }
func (f fakeHost) Exists(p string) bool           { return f.paths[p] }
func (f fakeHost) LoadBPF() error                 { return f.bpfErr }
func (f fakeHost) LibcudaProcesses() ([]cudaProcess, int, error) {
	return f.procs, f.unread, nil
}
func (f fakeHost) GPUs() ([]string, error) { return f.gpus, f.gpuErr }

const allCaps = uint64(1)<<41 - 1

func goodHost() fakeHost {
	return fakeHost{release: "6.8.0-45-generic", euid: 0, caps: allCaps,
		paths: map[string]bool{btfFile: true, tracefsEvents: true, tracefsMount: true, uprobePMU: true},
		procs: []cudaProcess{{PID: 4100, Comm: "python3", Lib: "/usr/lib/x86_64-linux-gnu/libcuda.so.1"}, {PID: 4101, Comm: "python3", Lib: "/usr/lib/x86_64-linux-gnu/libcuda.so.1"}},
		gpus:  []string{"0 NVIDIA H100 80GB HBM3", "1 NVIDIA H100 80GB HBM3"}}
}

func statuses(cs []check) map[string]check {
	out := map[string]check{}
	for _, c := range cs {
		out[c.name] = c
	}
	return out
}

func TestDoctorGoodHost(t *testing.T) {
	cs := doctorChecks(goodHost())
	var buf bytes.Buffer
	if failed := writeDoctor(&buf, cs); len(failed) != 0 {
		t.Fatalf("failed %v:\n%s", failed, buf.String())
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"kernel", "btf", "privileges", "tracefs", "bpf", "uprobes", "libcuda", "nvml"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, l := range lines {
		if f := strings.Fields(l); f[0] != "ok" || f[1] != want[i] {
			t.Errorf("line %d = %q, want ok %s", i+1, l, want[i])
		}
	}
	st := statuses(cs)
	if !strings.Contains(st["libcuda"].text, "mapped by 2 processes: 4100 (python3), 4101 (python3)") ||
		!strings.Contains(st["nvml"].text, "2 GPUs") {
		t.Errorf("libcuda %q nvml %q", st["libcuda"].text, st["nvml"].text)
	}
}

func TestDoctorGaps(t *testing.T) {
	h := goodHost()
	h.release = "5.4.0-150-generic"
	h.euid = 1000
	h.caps = 1 << 39 // CAP_BPF only
	h.paths = map[string]bool{uprobePMU: true}
	h.bpfErr = errors.New("operation not permitted")
	h.procs = append(h.procs, cudaProcess{PID: 5000, Comm: "vllm", Err: errors.New("open /proc/5000/root/usr/lib/libcuda.so.1: permission denied")})
	h.gpus, h.gpuErr = nil, gpu.ErrNoNVML
	cs := doctorChecks(h)
	var buf bytes.Buffer
	failed := writeDoctor(&buf, cs)
	if got := strings.Join(failed, ","); got != "kernel,btf,privileges,tracefs,bpf,libcuda" {
		t.Fatalf("failed %s:\n%s", got, buf.String())
	}
	st := statuses(cs)
	// Kernel 5.4 charges BPF memory to memlock: CAP_SYS_RESOURCE is needed too.
	if p := st["privileges"].text; !strings.Contains(p, "not root, missing CAP_PERFMON, CAP_SYS_RESOURCE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH") ||
		!strings.Contains(p, "setcap cap_perfmon,cap_sys_resource,cap_sys_ptrace,cap_dac_read_search+ep") {
		t.Errorf("privileges: %s", p)
	}
	if k := st["kernel"].text; !strings.Contains(k, "5.4.0-150-generic is older than 5.15") {
		t.Errorf("kernel: %s", k)
	}
	if n := st["nvml"]; n.status != "note" || !strings.Contains(n.text, "gpu health off") {
		t.Errorf("nvml: %+v", n)
	}
	if l := st["libcuda"].text; !strings.Contains(l, "5000 (vllm): open /proc/5000/root") {
		t.Errorf("libcuda: %s", l)
	}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.HasPrefix(line, "missing") && !strings.Contains(line, ":") {
			t.Errorf("a missing line says nothing of what to do: %q", line)
		}
	}
}

// CAP_SYS_ADMIN stands for CAP_BPF and CAP_PERFMON; on 5.11 and later CAP_SYS_RESOURCE
// is not needed; tracefs that is not mounted but mountable is fine.
func TestDoctorSysAdmin(t *testing.T) {
	h := goodHost()
	h.euid = 1000
	h.caps = 1<<21 | 1<<19 | 1<<2
	h.paths = map[string]bool{btfFile: true, tracefsMount: true, uprobePMU: true}
	st := statuses(doctorChecks(h))
	if p := st["privileges"]; p.status != "ok" {
		t.Errorf("privileges: %+v", p)
	}
	if tr := st["tracefs"]; tr.status != "ok" || !strings.Contains(tr.text, "not mounted") {
		t.Errorf("tracefs: %+v", tr)
	}
	h.procs = nil
	h.unread = 3
	if l := statuses(doctorChecks(h))["libcuda"]; l.status != "note" || !strings.Contains(l.text, "3 processes could not be read") {
		t.Errorf("libcuda: %+v", l)
	}
	// A plain user sees only its own processes: doctor says so, and how to see them all.
	h.caps = 0
	if l := statuses(doctorChecks(h))["libcuda"]; l.status != "note" || !strings.Contains(l.text, "3 others could not be read: run sudo inferprobe doctor") {
		t.Errorf("libcuda as a plain user: %+v", l)
	}
}

func TestDoctorExitStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"doctor", "--bogus"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

func TestOperatorText(t *testing.T) {
	err := errors.New("load program: operation not permitted (MEMLOCK may be too low, consider rlimit.RemoveMemlock)")
	if got := operatorText(err); got != "load program: operation not permitted" {
		t.Errorf("operatorText = %q", got)
	}
}
