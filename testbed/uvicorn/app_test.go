package uvicorn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferprobe/inferprobe/testbed/frontend/fakecore"
	"github.com/inferprobe/inferprobe/testbed/truth"
)

// TestMain makes this test binary the app's "testbed": `engine-core` runs the fake core.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "engine-core" {
		if err := fakecore.Main(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake engine-core:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type app struct {
	cmd    *exec.Cmd
	url    string
	pid    int
	truth  string
	aborts string
	stderr *bytes.Buffer
}

const model = "testbed-model"

// startApp runs app.py over the fake core (given its flags) and waits until it serves.
func startApp(t *testing.T, maxModelLen int, coreArgs ...string) *app {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip(err.Error())
	}
	dir := t.TempDir()
	script, err := Path(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{truth: filepath.Join(dir, "truth.jsonl"), aborts: filepath.Join(dir, "aborts"), stderr: &bytes.Buffer{}}
	args := Args{Host: "127.0.0.1", Port: 0, Model: model, MaxModelLen: maxModelLen, Truth: a.truth,
		Testbed: os.Args[0], CoreArgs: append([]string{"--aborts=" + a.aborts}, coreArgs...)}
	argv := Command(script, args)
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.cmd.Stderr = a.stderr
	out, _ := a.cmd.StdoutPipe()
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			a.cmd.Wait()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ready <- sc.Text()
		}
		close(ready)
	}()
	select {
	case line := <-ready:
		if _, err := fmt.Sscanf(line, "testbed serving %s pid=%d", &a.url, &a.pid); err != nil {
			a.cmd.Wait()
			t.Fatalf("ready line %q: %v: %s", line, err, a.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("app not ready: %s", a.stderr)
	}
	return a
}

// stop sends SIGTERM (uvicorn shuts down, stopping the core) and returns the truth.
func (a *app) stop(t *testing.T) []truth.Request {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	if err := a.cmd.Wait(); err != nil {
		t.Fatalf("app exit: %v: %s", err, a.stderr)
	}
	reqs, _, err := truth.ReadStrict(a.truth)
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

func (a *app) post(t *testing.T, path, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(a.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func events(t *testing.T, r io.Reader) []string {
	t.Helper()
	var evs []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			evs = append(evs, d)
		} else if sc.Text() != "" {
			t.Fatalf("SSE line %q", sc.Text())
		}
	}
	return evs
}

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int     `json:"index"`
		Text  *string `json:"text"`
		Delta *struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Message *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func parse(t *testing.T, s string) chunk {
	t.Helper()
	var c chunk
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return c
}
