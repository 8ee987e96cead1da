package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/inferprobe/inferprobe/testbed/proto"
)

// maxLine bounds one JSON line from the front end.
const maxLine = 1 << 20

// ServeConn runs an engine core for the front end at the other end of conn (the
// engine-core process of --procs 2): proto.Msg JSON lines in both directions. It returns
// when the front end closes the connection, ctx ends, or the core cannot start (the
// connection is then closed unread, so the front end sees the core go).
func ServeConn(ctx context.Context, cfg Config, conn net.Conn) error {
	defer conn.Close()
	core, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	readErr := make(chan error, 1)
	go func() {
		readErr <- readMsgs(conn, core)
		_ = core.Close() // the front end is gone: stop stepping
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = core.Close()
			_ = conn.Close()
		case <-core.Done():
		}
	}()
	werr := writeMsgs(conn, core.Out())
	cerr := core.Close()
	_ = conn.Close()
	rerr := <-readErr
	if cerr != nil {
		return cerr
	}
	if werr != nil && ctx.Err() == nil {
		return werr
	}
	if rerr != nil && ctx.Err() == nil {
		return rerr
	}
	return nil
}

func readMsgs(r io.Reader, core *Core) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var m proto.Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("front end sent a bad line: %w", err)
		}
		core.Send(m)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("read from front end: %w", err)
	}
	return nil
}

// writeMsgs sends every message of out, flushing whenever none is pending.
func writeMsgs(w io.Writer, out <-chan proto.Msg) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	var err error
	for m := range out {
		if err != nil {
			continue // drain, so the core can stop
		}
		if err = enc.Encode(&m); err == nil && len(out) == 0 {
			err = bw.Flush()
		}
		if err != nil {
			err = fmt.Errorf("write to front end: %w", err)
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// RunProcess connects to the unix socket the front end listens on and serves it.
func RunProcess(ctx context.Context, cfg Config, socketPath string) error {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return fmt.Errorf("connect to front end: %w", err)
	}
	return ServeConn(ctx, cfg, conn)
}

// Main is `testbed engine-core --connect PATH [engine flags]`: the engine-core process of
// --procs 2, until the front end closes the socket or SIGINT/SIGTERM.
func Main(args []string) error {
	fs := pflag.NewFlagSet("engine-core", pflag.ContinueOnError)
	cfg := Flags(fs)
	connect := fs.String("connect", "", "unix socket the front end listens on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *connect == "" {
		return errors.New("engine-core: --connect is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return RunProcess(ctx, *cfg, *connect)
}
