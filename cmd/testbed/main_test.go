package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary be the testbed binary: the engine it starts, and the
// engine-core and worker processes that engine starts (they run os.Executable()), are
// this binary with a subcommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "engine", "engine-core", "worker", "load":
			main()
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}
