package cuda

import (
	"testing"

	"github.com/inferprobe/inferprobe/testbed/fakecuda"
)

// fakeLib builds (once per test binary, cached) the simulated driver and returns its folder.
func fakeLib(t *testing.T) string {
	t.Helper()
	return fakecuda.BuildForTest(t).LibDir
}
