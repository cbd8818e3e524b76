package api

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
)

// TestLimitLetsThroughWhenRedisIsDown: a limit kept in a Redis that
// cannot be reached lets the request through and logs a warning (SPEC
// §14.3: a Redis outage does not take the API down).
func TestLimitLetsThroughWhenRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there: every Redis call is refused
	client := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()

	var logs bytes.Buffer
	s := &Server{Apps: miniback.Apps{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Limiter: gateway.NewRedisLimiter(client, "test:"),
		Limits:  Limits{APIPerIP: gateway.Rate{N: 1, Per: time.Hour}}}
	h := s.Handler()
	ran := 0
	s.handle("GET /api/v1/probe", func(w http.ResponseWriter, r *http.Request) error {
		ran++
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	for i := range 3 { // over a limit of 1/h, were it counted
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/probe", nil))
		if rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit-Limit") != "" {
			t.Fatalf("request %d with Redis down: %d %v, want 204 without RateLimit headers", i, rec.Code, rec.Header())
		}
	}
	if ran != 3 {
		t.Fatalf("the handler ran %d times, want 3", ran)
	}
	if out := logs.String(); !strings.Contains(out, `"level":"WARN","msg":"rate limit not checked"`) || !strings.Contains(out, `"kind":"api_per_ip"`) {
		t.Fatalf("no warning logged: %s", out)
	}
}
