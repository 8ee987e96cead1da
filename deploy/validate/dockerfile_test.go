package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends in a continuation line", path)
	}
	return out
}

// TestDockerfile checks the image's shape: a Go builder stage, a glibc runtime stage
// holding only the binary, and `inferprobe agent` as its command on the chart's port.
func TestDockerfile(t *testing.T) {
	r := root(t)
	ins := parseDockerfile(t, filepath.Join(r, "deploy/Dockerfile"))
	var froms []string
	var build string
	get := map[string][]string{}
	for _, in := range ins {
		get[in.Cmd] = append(get[in.Cmd], in.Args)
		switch in.Cmd {
		case "FROM":
			froms = append(froms, in.Args)
		case "RUN":
			if strings.Contains(in.Args, "go build") {
				build = in.Args
			}
		}
	}
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:${GO_VERSION}-") || !strings.HasSuffix(froms[0], " AS build") {
		t.Fatalf("stages %q, want a golang builder AS build and a runtime stage", froms)
	}
	// go-nvml dlopens libnvidia-ml through cgo: the runtime needs glibc, which
	// distroless/static lacks.
	if froms[1] != "gcr.io/distroless/base-debian12" {
		t.Errorf("runtime stage %q, want gcr.io/distroless/base-debian12 (glibc for cgo)", froms[1])
	}
	for _, want := range []string{"CGO_ENABLED=1", "go build", "-trimpath", "-o /out/inferprobe", "./cmd/inferprobe"} {
		if !strings.Contains(build, want) {
			t.Errorf("build step %q lacks %q", build, want)
		}
	}
	if !slices.Contains(get["COPY"], "--from=build /out/inferprobe /usr/bin/inferprobe") {
		t.Errorf("COPY %q: the runtime stage must take only the binary", get["COPY"])
	}
	if !slices.Equal(get["ENTRYPOINT"], []string{`["/usr/bin/inferprobe"]`}) || !slices.Equal(get["CMD"], []string{`["agent"]`}) {
		t.Errorf("ENTRYPOINT %q CMD %q, want inferprobe and agent", get["ENTRYPOINT"], get["CMD"])
	}
	if !slices.Equal(get["EXPOSE"], []string{"9477"}) {
		t.Errorf("EXPOSE %q, want the agent's 9477", get["EXPOSE"])
	}

	// The context filter must keep what the build reads.
	ignore, err := os.ReadFile(filepath.Join(r, "deploy/Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(ignore), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		for _, needed := range []string{"go.mod", "go.sum", "cmd/inferprobe/main.go", "tracer/cuda_x86_bpfel.o", "export/web.go"} {
			if ok, _ := filepath.Match(p, needed); ok || strings.HasPrefix(needed, strings.TrimSuffix(p, "/")+"/") {
				t.Errorf("dockerignore pattern %q drops %s, which the build needs", p, needed)
			}
		}
	}
}

// TestDockerfileBuildCommand runs the Dockerfile's go build line on this tree, as the
// builder stage would: it is the part of the image build that can break with the code.
func TestDockerfileBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent with cgo (a minute cold); -short skips it")
	}
	r := root(t)
	var build string
	for _, in := range parseDockerfile(t, filepath.Join(r, "deploy/Dockerfile")) {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			build = in.Args
		}
	}
	// Drop the BuildKit mount flags; send the output to a temporary directory.
	cmdline := regexp.MustCompile(`--mount=\S+\s*`).ReplaceAllString(build, "")
	out := filepath.Join(t.TempDir(), "inferprobe")
	cmdline = strings.ReplaceAll(cmdline, "/out/inferprobe", out)
	cmdline = strings.ReplaceAll(cmdline, "${VERSION}", "test")
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = r
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	help, err := exec.Command(out, "agent", "--help").CombinedOutput()
	if err != nil && !strings.Contains(string(help), "Usage") {
		t.Fatalf("%s agent --help: %v\n%s", out, err, help)
	}
	// The flags the chart passes must exist.
	for _, f := range []string{"--web.listen-address", "--web.telemetry-path", "--web.config.file", "--path.procfs",
		"--path.pod-logs", "--collector.gpu.interval", "--path.nvml"} {
		if !strings.Contains(string(help), f) {
			t.Errorf("inferprobe agent has no %s flag, which the DaemonSet passes", f)
		}
	}
}
