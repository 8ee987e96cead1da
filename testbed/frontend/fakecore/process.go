package fakecore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// Main runs the fake core as an engine-core process: `engine-core --connect PATH
// [--tick D] [--max-running N] [--fail-prompt N] [--fail-after-prompt N] [--aborts FILE]`,
// JSON lines over the unix socket the front end listens on, until the front end closes
// it. --aborts appends the id of every request freed by an abort, one a line. Flags of
// the real engine are accepted and ignored, so a front end can pass its own through.
func Main(args []string) error {
	fs := pflag.NewFlagSet("engine-core", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	connect := fs.String("connect", "", "unix socket the front end listens on")
	var opt Options
	fs.DurationVar(&opt.Tick, "tick", time.Millisecond, "step period")
	fs.IntVar(&opt.MaxRunning, "max-running", 0, "reject adds past this many running requests")
	fs.IntVar(&opt.FailPrompt, "fail-prompt", 0, "fail requests with this many prompt tokens before their first token")
	fs.IntVar(&opt.FailAfterPrompt, "fail-after-prompt", 0, "fail requests with this many prompt tokens after their first token")
	aborts := fs.String("aborts", "", "append aborted request ids to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *connect == "" {
		return errors.New("fake engine-core: --connect is required")
	}
	conn, err := net.Dial("unix", *connect)
	if err != nil {
		return fmt.Errorf("connect to front end: %w", err)
	}
	defer conn.Close()
	if *aborts != "" {
		af, err := os.OpenFile(*aborts, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer af.Close()
		opt.AbortLog = af
	}
	c := New(opt)
	defer c.Close()
	go func() {
		enc := json.NewEncoder(conn)
		for m := range c.Out() {
			if enc.Encode(&m) != nil {
				return
			}
		}
	}()
	sc := bufio.NewScanner(conn)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m proto.Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("bad line from front end: %w", err)
		}
		c.Send(m)
	}
	return sc.Err()
}
