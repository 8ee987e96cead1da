package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/tracer"
	"github.com/inferprobe/inferprobe/tracer/event"
)

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "usage: inferprobe"},
		{[]string{"help"}, 0, "events"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"events", "--capture.launches", "sometimes"}, 2, `launch mode "sometimes"`},
		{[]string{"events", "--capture.payload-bytes", "5000"}, 2, "want 0 to 4096"},
		{[]string{"events", "--no-such-flag"}, 2, "unknown flag"},
		{[]string{"events", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"events", "--help"}, 0, "--path.procfs"},
		// Bad input: the flag, the value and what it wants; no Go parser text.
		{[]string{"record", "--pid", "abc", "--out", "/tmp/x"}, 2, `--pid "abc": want a whole number`},
		{[]string{"record", "--duration", "soon", "--out", "/tmp/x"}, 2, `--duration "soon": want a duration such as 500ms, 10s or 5m`},
		{[]string{"record", "--duration", "-5s", "--out", "/tmp/x"}, 2, "--duration -5s: want a positive duration"},
		{[]string{"record", "--duration", "0", "--out", "/tmp/x"}, 2, "--duration 0s: want a positive duration"},
		{[]string{"record", "--cgroup", "/no/such/cgroup.scope", "--out", "/tmp/x"}, 2, "--cgroup /no/such/cgroup.scope: no such cgroup v2"},
		{[]string{"agent", "--web.listen-address", "9477"}, 2, `--web.listen-address "9477": want HOST:PORT or :PORT`},
		{[]string{"agent", "--web.listen-address", ":http-alt"}, 2, `--web.listen-address ":http-alt": want HOST:PORT or :PORT`},
		{[]string{"replay", "/no/such/recording"}, 1, "replay /no/such/recording: no such directory"},
		{[]string{"replay", "a", "--out", "b", "--in-place"}, 2, "usage: inferprobe replay DIR [--out DIR2 | --in-place]"},
	} {
		var out, errOut bytes.Buffer
		if code := dispatch(tc.args, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.err) {
			t.Errorf("inferprobe %q: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.err)
		}
	}
}

func TestCaptureConfig(t *testing.T) {
	fs := newFlags("events", &bytes.Buffer{})
	var cf captureFlags
	cf.register(fs)
	if err := fs.Parse([]string{"--pid", "12", "--pid", "13", "--capture.launches", "sample:8", "--path.procfs", "/host/proc", "--capture.payload-bytes", "0"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cf.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PIDs) != 2 || cfg.PIDs[1] != 13 || cfg.Auto || cfg.LaunchMode != (tracer.LaunchMode{Every: 8}) ||
		cfg.ProcRoot != "/host/proc" || cfg.PayloadBytes != 0 || cfg.RescanInterval != time.Second {
		t.Errorf("config %+v", cfg)
	}
	cf = captureFlags{payload: tracer.DefaultPayloadBytes, launches: "on"}
	if cfg, _ := cf.config(nil); !cfg.Auto || cfg.PayloadBytes != 512 {
		t.Errorf("without targets: auto %v, payload %d; want auto, 512", cfg.Auto, cfg.PayloadBytes)
	}
}

func TestRedact(t *testing.T) {
	s := &event.Sock{Data: []byte("POST /v1/chat"), Tail: []byte("usage"), Ret: 100}
	redact(s)
	if s.Data != nil || s.Tail != nil || s.Ret != 100 {
		t.Errorf("redacted %+v", s)
	}
	var buf bytes.Buffer
	w := event.NewWriter(&buf)
	w.Write(s)
	w.Flush()
	if strings.Contains(buf.String(), "data") || strings.Contains(buf.String(), "tail") {
		t.Errorf("written %s", buf.String())
	}
}

// record refuses an --out that holds a recording unless --force, and replay names what
// is wrong with the directory it is given.
func TestRecordOutChecks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "requests.jsonl"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"record", "--out", dir}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "already holds a recording (requests.jsonl): choose another directory, or --force") {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
	if err := checkOut(dir, true); err != nil {
		t.Errorf("with --force: %v", err)
	}
	file := filepath.Join(dir, "requests.jsonl")
	errOut.Reset()
	if code := dispatch([]string{"replay", file}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "not a directory") {
		t.Errorf("replay of a file: exit %d: %s", code, errOut.String())
	}
	errOut.Reset()
	if code := dispatch([]string{"replay", dir}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no events.jsonl in it") {
		t.Errorf("replay of a directory without events: exit %d: %s", code, errOut.String())
	}
}
