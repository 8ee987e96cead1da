package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/inferprobe/inferprobe/gpu"
	"github.com/inferprobe/inferprobe/tracer/procfs"
)

// realHost is the machine doctor runs on.
type realHost struct {
	procfs string
	nvml   string
}

func (realHost) KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

func (realHost) EUID() int { return os.Geteuid() }

func (h realHost) CapEff() (uint64, error) {
	path := h.procfs + "/self/status"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("no CapEff in %s", path)
}

// Exists reports whether path is there; one this user may not look into (tracefs is
// root's alone) is there too.
func (realHost) Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil || errors.Is(err, os.ErrPermission)
}

// LoadBPF loads "r0 = 0; exit" as a socket filter and unloads it.
func (realHost) LoadBPF() error {
	_ = rlimit.RemoveMemlock() // kernels before 5.11 charge BPF memory to it
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SocketFilter,
		Instructions: asm.Instructions{asm.LoadImm(asm.R0, 0, asm.DWord), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		return err
	}
	return p.Close()
}

func (h realHost) LibcudaProcesses() ([]cudaProcess, int, error) {
	fs := procfs.NewFS(h.procfs)
	pids, err := fs.PIDs()
	if err != nil {
		return nil, 0, err
	}
	self := os.Getpid()
	var out []cudaProcess
	unreadable := 0
	for _, pid := range pids {
		if pid == self {
			continue
		}
		lib, ok, err := fs.FindLib(pid, procfs.IsLibcuda)
		if errors.Is(err, procfs.ErrGone) || !ok && err == nil {
			continue
		}
		if !ok {
			// Either the maps are unreadable or libcuda is mapped but cannot be opened.
			if _, merr := fs.Maps(pid); merr != nil {
				if !errors.Is(merr, procfs.ErrGone) {
					unreadable++
				}
				continue
			}
		}
		p := cudaProcess{PID: pid, Lib: lib.MappedPath, Err: err}
		if st, serr := fs.Stat(pid); serr == nil {
			p.Comm = st.Comm
		}
		if p.Lib == "" {
			p.Lib = "libcuda"
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, unreadable, nil
}

func (h realHost) GPUs() ([]string, error) {
	s, err := gpu.New(gpu.Options{LibraryPath: h.nvml})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	devs, err := s.Sample()
	if err != nil && len(devs) == 0 {
		return nil, err
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		names = append(names, fmt.Sprintf("%d %s", d.Index, d.Name))
	}
	return names, nil
}
