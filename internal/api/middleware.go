package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/miniback/miniback/internal/metrics"

	"github.com/miniback/miniback"
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID takes a sane X-Request-Id from the caller or makes one, and
// echoes it in the answer.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(miniback.WithRequestID(r.Context(), id)))
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// withLogging logs one line per request (never bodies, headers or tokens)
// and records the metrics.
func (s *Server) withLogging(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		if clientGone(r) {
			sw.status = StatusClientClosedRequest
		}
		d := time.Since(start)
		route := r.Pattern // the mux sets it on the request it was given
		s.Metrics.ObserveHTTP(route, sw.status, d)
		if s.NoRequestLog {
			return
		}
		s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.status), slog.Duration("duration", d),
			slog.String("appid", r.PathValue("appid")), // the mux set it on r
			slog.String("request_id", miniback.RequestIDFrom(r.Context())))
	})
}

// StatusClientClosedRequest is the status recorded (as nginx does) for a
// request whose client went away before the answer was complete.
const StatusClientClosedRequest = 499

// clientGone reports whether the client gave up on r: its context was
// canceled while the handler ran (the server cancels it when the
// connection closes).
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

// withRecover turns a panic into a logged 500 in SPEC's shape instead of a
// dropped connection.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// MetricsHandler serves reg in Prometheus text format; cmd/miniback mounts
// it on the main listener or on metrics.listen.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// defaultMetrics gives a Server built without Metrics (tests, embedders)
// private metrics that nothing exposes.
func defaultMetrics(apps miniback.Apps) *metrics.Metrics {
	ids := make([]string, 0, len(apps))
	for id := range apps {
		ids = append(ids, id)
	}
	return metrics.New(prometheus.NewRegistry(), metrics.Options{AppIDs: ids})
}
