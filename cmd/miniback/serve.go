package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/miniback/miniback/internal/config"
)

// runServe runs the backend until ctx ends.
func runServe(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, environ, stderr, nil)
	if err != nil {
		return err
	}
	logs := newLogBuffer(stderr)
	defer logs.Close() // after Main closed: its last lines are written
	logger := newLogger(cfg.Log, logs)
	logger = slog.New(flushOnWarn{logger.Handler(), logs})
	m := &Main{Config: cfg, Logger: logger, Stdout: stdout}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	if cfg.Sandbox {
		printBanner(stdout, m.Addr())
	}
	return m.Run(ctx)
}

// printBanner tells a newcomer in sandbox mode how to log a user in.
func printBanner(w io.Writer, addr string) {
	base := "http://" + loopbackAddr(addr)
	fmt.Fprintf(w, `
miniback is running in sandbox mode: an embedded WeChat sandbox, SQLite under ./data.
  demo appid: %[2]s

Log a simulated user in (wx.login gives the code; /api/v1/…/login exchanges it):
  CODE=$(curl -s -X POST %[1]s/sandbox/login -H 'Content-Type: application/json' -d '{"appid":"%[2]s","user":"alice"}' | sed 's/.*"code":"\([^"]*\)".*/\1/')
  curl -s -X POST %[1]s/api/v1/%[2]s/login -H 'Content-Type: application/json' -d "{\"code\":\"$CODE\"}"

`, base, config.DemoAppID)
}
