package gpu

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/accuracy"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// TestRecordCPUServer records the CPU server under load with inferprobe and checks the
// wire side: every request found once with the right status, and the TTFT and E2E of the
// streamed ones within accuracy's 1 ms bar. (No GPU steps on the CPU: queue, prefill
// and the estimated first token of whole responses stay unknown here.)
func TestRecordCPUServer(t *testing.T) {
	needRoot(t)
	s := startServer(t)
	bin := binaries(t)
	dir := filepath.Join(t.TempDir(), "record")
	var stderr, stdout bytes.Buffer
	rec := exec.Command(filepath.Join(bin, "inferprobe"), "record", "--pid", strconv.Itoa(s.pid), "--duration", "60s", "--out", dir)
	rec.Stdout, rec.Stderr = &stdout, &lockedBuffer{mu: &s.mu, b: &stderr}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	defer rec.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.errTextOf(&stderr), "msg=recording") {
		if time.Now().After(deadline) {
			t.Fatalf("inferprobe record did not start:\n%s", s.errTextOf(&stderr))
		}
		time.Sleep(100 * time.Millisecond)
	}
	from := truth.Now()
	runLoad(t, s.url, "--count", "40", "--rate", "40", "--concurrency", "8", "--prompt-tokens", "8:64",
		"--output-tokens", "2:24", "--stream-fraction", "1", "--usage-fraction", "0.5", "--seed", "5")
	to := truth.Now()
	time.Sleep(300 * time.Millisecond)
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("inferprobe record: %v\n%s", err, s.errTextOf(&stderr))
	}
	s.stop(t)

	treqs, tsteps, err := truth.ReadStrict(s.truth)
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := export.ReadRequests(filepath.Join(dir, export.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := export.ReadSteps(filepath.Join(dir, export.StepsFile))
	if err != nil {
		t.Fatal(err)
	}
	var window []truth.Request
	for _, r := range treqs {
		if r.ArrivalNS >= from && r.ArrivalNS <= to {
			window = append(window, r)
		}
	}
	rep := accuracy.Compare(reqs, steps, window, tsteps)
	if len(window) != 40 || rep.Found != 40 || rep.Missing+rep.Duplicates+rep.Extra != 0 || len(rep.StatusWrong)+len(rep.ClassWrong) != 0 {
		var b bytes.Buffer
		rep.Table(&b, "cpu server")
		t.Fatalf("%d truth requests in the window:\n%s\n%v %v", len(window), b.String(), rep.StatusWrong, rep.ClassWrong)
	}
	for _, f := range []string{"ttft", "e2e", "tpot"} {
		errs := rep.Errs[f]
		if len(errs) != 40 && f != "tpot" {
			t.Errorf("%s compared for %d requests, want 40", f, len(errs))
		}
		// the host's two cores are shared: allow a tenth past the 1 ms / 2 ms bar
		if n := len(errs); n == 0 || float64(rep.Within[f]) < 0.9*float64(n) {
			t.Errorf("%s: %d of %d within the bar; errors %v", f, rep.Within[f], n, errs)
		}
		for _, e := range errs {
			if math.IsInf(e, 1) {
				t.Errorf("%s: a streamed request has no value", f)
				break
			}
		}
	}
	if len(steps) != 0 {
		t.Errorf("%d GPU steps recorded from a CPU server", len(steps))
	}
}

func (s *server) errTextOf(b *bytes.Buffer) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return b.String()
}

// TestCheckScriptCPU runs check.sh end to end on the CPU with the tiny model and short
// loads: every phase that needs no GPU runs, and what would come back is complete.
func TestCheckScriptCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("check.sh takes a minute: skipped with -short")
	}
	needRoot(t)
	needPython(t)
	bin := binaries(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("bash", "check.sh", out)
	cmd.Env = append(os.Environ(), "PYTHON="+python(), "GPUCHECK_BIN="+bin, "GPUCHECK_WORK="+filepath.Join(t.TempDir(), "work"),
		"GPUCHECK_DEVICE=cpu", "GPUCHECK_MODEL="+strings.Join(tinyModel[2:], " "), "GPUCHECK_SECONDS=3",
		"GPUCHECK_ACC_SECONDS=4", "GPUCHECK_ACC_RATE=10", "GPUCHECK_TPUT_CONCURRENCY=4", "GPUCHECK_PORT=18731")
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check.sh: %v\n%s", err, log)
	}
	for _, f := range []string{"summary.txt", "check.log", "artifacts.tar.gz", "events1-head.jsonl.gz", "events2-head.jsonl.gz"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	sum := string(mustRead(t, filepath.Join(out, "summary.txt")))
	for _, want := range []string{
		"## inferprobe doctor",
		"inferprobe can trace on this host.",
		"throughput cost of inferprobe (record, launches on):",
		"throughput cost of inferprobe (agent, launches off):",
		"## throughput with the agent attached, --capture.launches off",
		"profiler decode step: 0 kernels", // no CUDA on the CPU
		"## record 1: accuracy against the server's ground truth",
		"## record 2: CUDA calls and socket syscalls of the server",
		"nvidia-smi: not found",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	for _, run := range []string{"run 1", "run 2"} {
		line := lineWith(sum, run+": ")
		if !strings.Contains(line, " 0 missing, 0 duplicated, 0 extra; 0 status and 0 class mismatches") {
			t.Errorf("%s: %q", run, line)
		}
	}
	if strings.Contains(sum, "did not start") {
		t.Errorf("a server or recording did not start:\n%s", sum)
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
