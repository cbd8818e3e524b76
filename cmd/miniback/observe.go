package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/miniback/miniback/internal/analytics"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/internal/metrics"
)

// newLogger builds the process logger from log.level and log.format.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// pushHandlerNames are the router's built-in handlers; configured rules
// add theirs. They bound the handler label of the push metrics.
var pushHandlerNames = []string{inbox.HandlerLog, inbox.HandlerAutoReply, inbox.HandlerWebhook, inbox.HandlerMediaCheck}

// openMetrics creates the registry and every metric of SPEC §8.1. The
// registry is this process's own: nothing is registered globally.
func (m *Main) openMetrics() {
	cfg := m.Config
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	apps := make([]string, len(cfg.Apps))
	for i, a := range cfg.Apps {
		apps[i] = a.AppID
	}
	handlers := append([]string(nil), pushHandlerNames...)
	for _, r := range cfg.Push.Rules {
		handlers = append(handlers, r.Handler)
	}
	v, c := buildVersion()
	m.Metrics = metrics.New(m.Registry, metrics.Options{AppIDs: apps, Handlers: handlers,
		Limits: enabledLimits(cfg.Limits), Version: v, Commit: c})
}

// enabledLimits names the rate limits in force, as their metric label.
func enabledLimits(l config.Limits) []string {
	var out []string
	for name, r := range map[string]config.Rate{"login_per_ip": l.LoginPerIP, "api_per_user": l.APIPerUser,
		"api_per_ip": l.APIPerIP, "admin_per_key": l.AdminPerKey, "push_per_app": l.PushPerApp} {
		if !r.IsZero() {
			out = append(out, name)
		}
	}
	return out
}

// registerPoolMetrics adds the collectors that read the database pool and
// the queue at each scrape.
func (m *Main) registerPoolMetrics(dbStats func() sql.DBStats) {
	m.Registry.MustRegister(
		metrics.DBCollector{Stats: dbStats},
		metrics.QueueCollector{Consumers: []string{"inbox", "outbox", analytics.Consumer}, Pending: m.Queue.Pending},
	)
}

// mainRegistry is the registry the main listener serves at /metrics: none
// when metrics.listen moves /metrics to its own listener.
func (m *Main) mainRegistry() *prometheus.Registry {
	if m.Config.Metrics.Listen != "" {
		return nil
	}
	return m.Registry
}

// openMetricsListener binds metrics.listen, when set.
func (m *Main) openMetricsListener() error {
	if m.Config.Metrics.Listen == "" {
		return nil
	}
	l, err := net.Listen("tcp", m.Config.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (metrics.listen): %w", m.Config.Metrics.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", api.MetricsHandler(m.Registry))
	m.metricsListener = l
	m.metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	return nil
}

// MetricsAddr is the address of metrics.listen's listener, "" when /metrics
// is served on the main listener.
func (m *Main) MetricsAddr() string {
	if m.metricsListener == nil {
		return ""
	}
	return m.metricsListener.Addr().String()
}

// serveMetrics serves metrics.listen until ctx ends.
func (m *Main) serveMetrics(ctx context.Context) {
	if m.metricsServer == nil {
		return
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.metricsServer.Shutdown(shutdownCtx)
	}()
	if err := m.metricsServer.Serve(m.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		m.Logger.Error("metrics listener stopped", slog.String("error", err.Error()))
	}
}
