package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/inferprobe/inferprobe/testbed/truth"
)

// Config is the front end's own settings.
type Config struct {
	Model       string        // the served model name
	MaxModelLen int           // prompt + max_tokens above this is a 400
	Truth       *truth.Writer // request lines; nil writes none
	Log         *slog.Logger  // nil logs nothing
	// Grace is how long Serve, once ctx ends, lets responses in flight finish before it
	// closes their connections (default 10s); idle keep-alive connections close at once.
	Grace time.Duration
}

// ErrCoreStopped is returned by Serve when the engine core's output ends.
var ErrCoreStopped = errors.New("engine core stopped")

// Server is the OpenAI-compatible HTTP/1.1 API server. Every response write is one
// conn.Write (one write(2)), so what the testbed records is what goes on the wire.
type Server struct {
	cfg     Config
	core    Core
	disp    *dispatcher
	pid     int
	started time.Time

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	drain chan struct{} // closed when Serve stops: connections close after their response
}

// New returns a server that hands requests to core. Call Serve once.
func New(cfg Config, core Core) (*Server, error) {
	if cfg.Model == "" {
		return nil, errors.New("frontend: empty model name")
	}
	if cfg.MaxModelLen < 2 {
		return nil, fmt.Errorf("frontend: max model len %d is below 2", cfg.MaxModelLen)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	return &Server{cfg: cfg, core: core, disp: newDispatcher(), pid: os.Getpid(),
		started: time.Now(), conns: map[net.Conn]struct{}{}, drain: make(chan struct{})}, nil
}

// InFlight is the number of completions waiting on the core.
func (s *Server) InFlight() int { return s.disp.inFlight() }

// Serve accepts connections on ln until ctx ends (nil error) or the core stops
// (ErrCoreStopped). It then closes ln, lets the responses in flight finish (for up to
// Config.Grace, while the core runs), and closes every connection before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	go s.disp.run(s.core.Out())
	stop := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
			stop <- nil
		case <-s.disp.done:
			if ctx.Err() != nil {
				stop <- nil
			} else {
				stop <- ErrCoreStopped
			}
		}
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			break
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			newConn(s, c).serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
	err := <-stop
	close(s.drain)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.cfg.Grace):
	case <-s.disp.done:
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
	return err
}

// record writes a request's truth line.
func (s *Server) record(rec *truth.Request) {
	if err := s.cfg.Truth.Write(rec); err != nil {
		s.cfg.Log.Error("truth", "err", err)
	}
}
