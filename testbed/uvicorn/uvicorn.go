package uvicorn

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Source is app.py.
//
//go:embed app.py
var Source []byte

// Python is the interpreter the app runs under: Debian's, which has the python3-*
// packages (a pyenv python3 earlier on PATH does not).
const Python = "/usr/bin/python3"

// Args are the app's settings.
type Args struct {
	Host        string
	Port        int
	Model       string
	MaxModelLen int
	Truth       string   // request truth lines ("" for none)
	Testbed     string   // the testbed binary the app starts the core with
	CoreArgs    []string // engine-core flags
}

// Argv is the app's command line, after the interpreter and script.
func (a Args) Argv() []string {
	argv := []string{"--host", a.Host, "--port", fmt.Sprint(a.Port), "--model", a.Model,
		"--max-model-len", fmt.Sprint(a.MaxModelLen), "--testbed", a.Testbed}
	if a.Truth != "" {
		argv = append(argv, "--truth", a.Truth)
	}
	return append(append(argv, "--"), a.CoreArgs...)
}

// Path writes Source to a file named by its hash, once, in dir (when empty: a private
// directory under os.TempDir(), so no stranger's module sits beside the script on
// Python's path), and returns the file.
func Path(dir string) (string, error) {
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("inferprobe-testbed-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("uvicorn app dir: %w", err)
		}
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
			return "", fmt.Errorf("uvicorn app dir %s: not a private directory", dir)
		}
	}
	sum := sha256.Sum256(Source)
	path := filepath.Join(dir, "inferprobe-testbed-app-"+hex.EncodeToString(sum[:8])+".py")
	if b, err := os.ReadFile(path); err == nil && string(b) == string(Source) {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".inferprobe-testbed-app-*")
	if err != nil {
		return "", fmt.Errorf("write uvicorn app: %w", err)
	}
	_, werr := tmp.Write(Source)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write uvicorn app: %v %v", werr, cerr)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write uvicorn app: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write uvicorn app: %w", err)
	}
	return path, nil
}

// Command is the interpreter's argv for the app at script.
func Command(script string, a Args) []string {
	return append([]string{Python, script}, a.Argv()...)
}

// Exec replaces this process with the app: on success it does not return.
func Exec(a Args) error {
	if _, err := os.Stat(Python); err != nil {
		return fmt.Errorf("uvicorn front end needs %s (with python3-fastapi, python3-uvicorn, python3-uvloop): %w", Python, err)
	}
	script, err := Path("")
	if err != nil {
		return err
	}
	argv := Command(script, a)
	if err := syscall.Exec(Python, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", Python, err)
	}
	return nil
}

// Check says whether this host can run the app: the interpreter and its packages.
func Check() error {
	out, err := exec.Command(Python, "-c", "import fastapi, uvicorn, uvloop, h11").CombinedOutput()
	if err != nil {
		return fmt.Errorf("the uvicorn front end needs %s with python3-fastapi, python3-uvicorn and python3-uvloop: %v: %s",
			Python, err, bytes.TrimSpace(out))
	}
	return nil
}
