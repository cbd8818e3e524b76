package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/miniback/miniback/sandbox"
)

// runSandbox runs only the WeChat sandbox (SPEC §6) for other backends'
// development and tests.
func runSandbox(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	var listen string
	cfg, err := loadConfig("sandbox", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&listen, "listen", "127.0.0.1:8081", "`address` to listen on")
	})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	apps := sandboxApps(cfg.Apps, "http://"+loopbackAddr(cfg.Listen))
	srv := &http.Server{
		Handler:           sandbox.New(sandbox.Config{Apps: apps, Logger: log, PayTimeScale: cfg.SandboxOpts.PayTimeScale}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	fmt.Fprintf(stdout, "WeChat sandbox listening on http://%s (apps: %d)\n", ln.Addr(), len(apps))
	if !loopbackOnly(ln.Addr().String()) {
		fmt.Fprintf(stdout, "WARNING: the sandbox listens on %s: its control routes (/sandbox/…) are reachable from other machines and mint users and codes without authentication\n", ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopbackAddr turns a wildcard listen address (":8080", "0.0.0.0:8080")
// into one a client can dial ("127.0.0.1:8080").
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
