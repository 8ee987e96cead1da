package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// shutdownGrace bounds how long Serve waits for in-flight scrapes once its context ends.
const shutdownGrace = 5 * time.Second

// Serve listens on srv.Addr and serves srv until ctx ends, then shuts it down gracefully
// and returns nil. webConfigFile follows the Prometheus exporter convention
// (exporter-toolkit's web configuration: tls_server_config, basic_auth_users with bcrypt
// hashes, http_server_config); "" serves plain HTTP with no authentication. The file is
// validated before the port is opened, so a bad file is an error at start-up and never a
// silently open endpoint. The TLS certificate and the users are re-read on new
// connections, so rotating them needs no restart.
func Serve(ctx context.Context, srv *http.Server, webConfigFile string, logger *slog.Logger) error {
	if webConfigFile != "" {
		if err := web.Validate(webConfigFile); err != nil {
			return fmt.Errorf("web config %s: %w", webConfigFile, err)
		}
	}
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return ServeListener(ctx, l, srv, webConfigFile, logger)
}

// ServeListener is Serve on a listener the caller opened (tests listen on port 0 and read
// the address back). It closes l.
func ServeListener(ctx context.Context, l net.Listener, srv *http.Server, webConfigFile string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{l.Addr().String()},
		WebSystemdSocket:   new(bool),
		WebConfigFile:      &webConfigFile,
	}
	done := make(chan error, 1)
	go func() { done <- web.Serve(l, srv, flags, logger) }()

	select {
	case err := <-done:
		l.Close()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	serr := srv.Shutdown(sctx)
	err := <-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", l.Addr(), err)
	}
	if serr != nil {
		return fmt.Errorf("shut down %s: %w", l.Addr(), serr)
	}
	return nil
}
