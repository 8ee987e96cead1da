// Command testbed is inferprobe's simulated LLM inference server and its load
// generator (see testbed/). Subcommands:
//
//	testbed engine [flags]                  the OpenAI-compatible server (front end + engine core)
//	testbed engine-core --connect PATH ...  the engine core process of --procs 2 and --frontend uvicorn
//	testbed worker --rank R --world N ...   a tensor-parallel worker process of --workers N
//	testbed load --url URL [flags]          the open-loop load generator
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/engine"
)

const usage = `usage: testbed <command> [flags]

commands:
  engine        serve the OpenAI-compatible API (front end and engine core)
  engine-core   the engine core process (started by engine --procs 2 or the uvicorn front end)
  worker        a tensor-parallel worker process (started by the core with --workers N)
  load          run the open-loop load generator against a server

"testbed <command> --help" lists a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "engine":
		err = runEngine(args)
	case "engine-core":
		err = engine.Main(args)
	case "worker":
		err = engine.WorkerMain(args)
	case "load":
		err = runLoad(args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "testbed: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed %s: %v\n", cmd, err)
		os.Exit(1)
	}
}
