package accuracy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/export"
	"github.com/inferprobe/inferprobe/testbed/fakecuda"
	"github.com/inferprobe/inferprobe/testbed/load"
	"github.com/inferprobe/inferprobe/tracer/event"
)

// Mode is one testbed configuration the accuracy bar is checked on.
type Mode struct {
	Name    string
	Engine  []string // testbed engine flags
	Chunked bool     // inferprobe's --correlate.chunked-prefill
	Record  []string // more inferprobe record flags (what a user knows of the engine's config)
	// AttachAfter > 0: the recording attaches this long after the load started, to a
	// server busy with keep-alive streams (the others attach before the load); Load then
	// replaces the load generator's flags.
	AttachAfter time.Duration
	Load        []string
}

// Modes are the modes; chunked prefill is on in the first one.
var Modes = []Mode{
	{Name: "procs1-chunked", Engine: []string{"--procs", "1", "--enable-chunked-prefill", "--max-num-batched-tokens", "384"}, Chunked: true,
		Record: []string{"--correlate.max-num-batched-tokens", "384", "--correlate.max-num-seqs", "32"}},
	{Name: "procs2", Engine: []string{"--procs", "2"}},
	{Name: "workers2", Engine: []string{"--procs", "2", "--workers", "2"}},
	{Name: "uvicorn", Engine: []string{"--frontend", "uvicorn"}},
	// Attached 6 s into the demo's load: 48 keep-alive streams of 64-256 tokens.
	{Name: "procs2-attach-live", Engine: []string{"--procs", "2"}, AttachAfter: 6 * time.Second,
		Load: []string{"--rate", "14", "--concurrency", "48", "--prompt-tokens", "16:400", "--max-tokens", "64:256",
			"--stream-frac", "1", "--overlong-frac", "0.02", "--max-model-len", "2048", "--abort-frac", "0.02", "--seed", "11"}},
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// binaries builds inferprobe and testbed once per test binary.
func binaries(t *testing.T) string {
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "inferprobe-accuracy-bin")
		if binErr != nil {
			return
		}
		for _, pkg := range []string{"inferprobe", "testbed"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, pkg), "./cmd/"+pkg)
			cmd.Dir = root(t)
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RunMode starts the testbed in mode m, records it with inferprobe while the load
// generator sends n requests, and compares the records with the ground truth.
func RunMode(t *testing.T, m Mode, n int) *Report {
	if os.Geteuid() != 0 {
		t.Skip("accuracy runs attach eBPF probes: needs root")
	}
	bins := binaries(t)
	lib := fakecuda.BuildForTest(t)
	dir := t.TempDir()
	if keep := os.Getenv("INFERPROBE_ACCURACY_KEEP"); keep != "" {
		dir = filepath.Join(keep, m.Name)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	truthPath := filepath.Join(dir, TruthFile)
	recDir := filepath.Join(dir, RecordDir)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	engArgs := append([]string{"engine", "--port", fmt.Sprint(port), "--truth", truthPath, "--lib", lib.LibDir,
		"--max-num-seqs", "32", "--max-waiting", "24", "--max-model-len", "2048"}, m.Engine...)
	eng := serverCommand(filepath.Join(bins, "testbed"), engArgs...)
	eng.Stdout, eng.Stderr = os.Stderr, os.Stderr
	eng.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := eng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-eng.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { eng.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-eng.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	waitHealthy(t, url, 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	loadArgs := []string{"--rate", "45", "--concurrency", "32", "--prompt-tokens", "16:600", "--max-tokens", "8:48",
		"--stream-frac", "0.85", "--overlong-frac", "0.03", "--max-model-len", "2048", "--abort-frac", "0.04",
		"--burst", "40@4s", "--seed", "7"}
	if m.Load != nil {
		loadArgs = m.Load
	}
	load := batchCommand(ctx, filepath.Join(bins, "testbed"), append([]string{"load", "--url", url, "--requests", fmt.Sprint(n),
		"--out", filepath.Join(dir, ClientFile)}, loadArgs...)...)
	load.Stderr = os.Stderr
	var loadOut bytes.Buffer
	load.Stdout = &loadOut
	startLoad := func() {
		if err := load.Start(); err != nil {
			t.Fatalf("testbed load: %v", err)
		}
	}
	if m.AttachAfter > 0 {
		startLoad()
		time.Sleep(m.AttachAfter)
	}

	// Attach to the running server: the point of the tool.
	recArgs := append([]string{"record", "--pid", fmt.Sprint(eng.Process.Pid), "--out", recDir,
		fmt.Sprintf("--correlate.chunked-prefill=%v", m.Chunked), "--capture.payload-bytes", "4096"}, m.Record...)
	rec := batchCommand(context.Background(), filepath.Join(bins, "inferprobe"), recArgs...)
	rec.Stdout = os.Stderr
	stderr, err := rec.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(os.Stderr, "record:", sc.Text())
			if strings.Contains(sc.Text(), "recording") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		rec.Process.Kill()
		t.Fatal("inferprobe record did not start within 30 s")
	}
	time.Sleep(300 * time.Millisecond)
	if m.AttachAfter == 0 {
		startLoad()
	}
	if err := load.Wait(); err != nil {
		t.Fatalf("testbed load: %v\n%s", err, loadOut.Bytes())
	}
	time.Sleep(time.Second) // let the last responses and steps settle
	rec.Process.Signal(syscall.SIGINT)
	if err := rec.Wait(); err != nil {
		t.Fatalf("inferprobe record: %v", err)
	}

	reqs, err := export.ReadRequests(filepath.Join(recDir, export.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := export.ReadSteps(filepath.Join(recDir, export.StepsFile))
	if err != nil {
		t.Fatal(err)
	}
	var r *Report
	if m.AttachAfter > 0 {
		r, err = CompareLiveWithTruth(truthPath, reqs, steps, firstSockNS(t, filepath.Join(recDir, export.EventsFile)))
		if err == nil {
			c := CompareClient(reqs, readClient(t, filepath.Join(dir, ClientFile)))
			r.Client = &c
		}
	} else {
		r, err = CompareWithTruth(truthPath, reqs, steps)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// firstSockNS is the time of the first socket event of a recording: when the capture of
// the server's connections began.
func firstSockNS(t *testing.T, path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := event.NewReader(f)
	for {
		e, err := rd.Read()
		if err != nil {
			t.Fatalf("no socket event in %s: %v", path, err)
		}
		if s, ok := e.(*event.Sock); ok {
			return s.TS
		}
	}
}

// serverCommand runs the testbed server so that its ground-truth stamps follow its
// syscalls closely on a busy machine: at nice -10 when allowed (the tests run as root), so
// that tasks woken by its reads and writes seldom preempt it on its way back from the
// kernel, and with more Go Ps than cores (GOMAXPROCS 8 unless set), so that a goroutine
// coming back from a syscall finds a P at once instead of queueing behind the core's
// other goroutines. Neither changes what the server sends or what inferprobe sees.
func serverCommand(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if nice, err := exec.LookPath("nice"); err == nil && os.Geteuid() == 0 {
		cmd = exec.Command(nice, append([]string{"-n", "-10", name}, args...)...)
	}
	cmd.Env = os.Environ()
	if os.Getenv("GOMAXPROCS") == "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS=8")
	}
	return cmd
}

// batchCommand runs a command of the observers (the load generator, the recorder) under
// SCHED_BATCH (chrt --batch), when chrt is there. The ground truth is stamped by the
// server right after each read and write returns; a task woken by that very syscall (the
// client reading the response, the recorder reading its ring buffer) would otherwise
// preempt the server on its way back from the kernel, and on a machine with few cores the
// stamp then lands milliseconds after the syscall that inferprobe timed. Batch tasks do
// not preempt on wakeup, so the truth stays the time of the syscall; what inferprobe sees
// is unchanged.
func batchCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	if chrt, err := exec.LookPath("chrt"); err == nil {
		return exec.CommandContext(ctx, chrt, append([]string{"--batch", "0", name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

func waitHealthy(t *testing.T, url string, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testbed at %s not healthy within %v", url, d)
}

func TestAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end accuracy runs take about half a minute per mode")
	}
	for _, m := range Modes {
		t.Run(m.Name, func(t *testing.T) {
			r := RunMode(t, m, 500)
			var b strings.Builder
			r.Table(&b, m.Name)
			t.Log("\n" + b.String())
			if f := r.Failures(); len(f) > 0 {
				t.Errorf("accuracy bar missed:\n%s", strings.Join(f, "\n"))
			}
		})
	}
}

// readClient reads the load generator's records.
func readClient(t *testing.T, path string) []load.Record {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []load.Record
	dec := json.NewDecoder(f)
	for dec.More() {
		var r load.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}
