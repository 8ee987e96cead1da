package tracer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// MinKernel is the oldest kernel the probes load on (attach cookies on uprobes: 5.15).
var MinKernel = [2]int{5, 15}

// Host paths Preflight and the tracer check; variables so that tests can point them at
// fixtures.
var (
	btfPath       = "/sys/kernel/btf/vmlinux"
	tracefsDir    = "/sys/kernel/tracing"
	debugTracefs  = "/sys/kernel/debug/tracing"
	selfStatus    = "/proc/self/status"
	unameRelease  = kernelRelease
	geteuid       = os.Geteuid
	removeMemlock = rlimit.RemoveMemlock
)

// Capabilities the tracer needs without root (include/uapi/linux/capability.h).
const (
	capSysAdmin = 21 // CAP_SYS_ADMIN
	capPerfmon  = 38 // CAP_PERFMON
	capBPF      = 39 // CAP_BPF
)

// ErrPreflight is wrapped by Preflight's error.
var ErrPreflight = errors.New("cannot trace on this host")

// Preflight reports everything this host lacks for the tracer, in one sentence, or nil.
// It changes nothing, except the memlock limit where the kernel still charges BPF memory
// to it.
func Preflight() error {
	var gaps []string
	privileged := true
	if geteuid() != 0 {
		caps, err := effectiveCaps(selfStatus)
		switch {
		case err != nil:
			privileged = false
			gaps = append(gaps, fmt.Sprintf("not running as root and the capabilities are unreadable (%v)", err))
		case caps&(1<<capSysAdmin) == 0 && (caps&(1<<capBPF) == 0 || caps&(1<<capPerfmon) == 0):
			privileged = false
			gaps = append(gaps, "not running as root and missing CAP_BPF and CAP_PERFMON (run with sudo, or grant both)")
		}
	}
	if _, err := os.Stat(btfPath); err != nil {
		gaps = append(gaps, fmt.Sprintf("no kernel BTF at %s (needs a kernel built with CONFIG_DEBUG_INFO_BTF=y)", btfPath))
	}
	if !tracefsMounted() {
		if st, err := os.Stat(tracefsDir); err != nil || !st.IsDir() {
			gaps = append(gaps, fmt.Sprintf("tracefs is not mounted and %s does not exist to mount it on", tracefsDir))
		}
	}
	if rel, err := unameRelease(); err != nil {
		gaps = append(gaps, fmt.Sprintf("the kernel version is unreadable (%v)", err))
	} else if v, ok := parseRelease(rel); !ok || v[0] < MinKernel[0] || v[0] == MinKernel[0] && v[1] < MinKernel[1] {
		gaps = append(gaps, fmt.Sprintf("kernel %s is older than %d.%d", rel, MinKernel[0], MinKernel[1]))
	}
	// Without the privileges, lifting the limit fails too; say only the cause.
	if err := removeMemlock(); err != nil && privileged {
		gaps = append(gaps, fmt.Sprintf("the memlock limit cannot be lifted (%v)", err))
	}
	if len(gaps) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrPreflight, strings.Join(gaps, "; "))
}

func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// parseRelease reads major and minor from a release such as "6.8.0-45-generic".
func parseRelease(rel string) ([2]int, bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, false
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	maj, err1 := strconv.Atoi(parts[0])
	min, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return [2]int{}, false
	}
	return [2]int{maj, min}, true
}

// effectiveCaps reads CapEff from a /proc/PID/status file.
func effectiveCaps(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("parse CapEff in %s: %w", path, err)
			}
			return caps, nil
		}
	}
	return 0, fmt.Errorf("no CapEff in %s", path)
}

func tracefsMounted() bool {
	for _, d := range []string{tracefsDir, debugTracefs} {
		if st, err := os.Stat(d + "/events"); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// ensureTracefs mounts tracefs on /sys/kernel/tracing when no tracefs is mounted: the
// syscall tracepoints are found through it. It reports whether it mounted.
func ensureTracefs() (bool, error) {
	if tracefsMounted() {
		return false, nil
	}
	if err := unix.Mount("nodev", tracefsDir, "tracefs", 0, ""); err != nil {
		return false, fmt.Errorf("tracefs is not mounted and mounting it on %s: %w", tracefsDir, err)
	}
	if !tracefsMounted() {
		return true, fmt.Errorf("tracefs mounted on %s has no events directory", tracefsDir)
	}
	return true, nil
}
