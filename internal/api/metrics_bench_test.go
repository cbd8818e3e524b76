package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/miniback/miniback"
)

// BenchmarkHealthzThroughMiddleware is one whole request through the
// middleware (request id, metrics, recover) to the cheapest handler: the
// context for the metrics' own cost (internal/metrics benchmarks).
func BenchmarkHealthzThroughMiddleware(b *testing.B) {
	s := &Server{Apps: miniback.Apps{}, Logger: slog.New(slog.DiscardHandler), NoRequestLog: true}
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
