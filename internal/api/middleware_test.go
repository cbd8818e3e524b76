package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miniback/miniback"
)

// TestAbandonedRequest: a request whose client left is recorded as 499,
// at Info, and whatever failed because of it is not logged as an error
// (issue #6 item 9).
func TestAbandonedRequest(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"store error after the client left", miniback.WrapError(miniback.ECodeUnavailable, "the database cannot take it now", context.Canceled)},
		{"plain canceled error", context.Canceled},
		{"bad input read as the client left", miniback.Errorf(miniback.ECodeInvalidRequest, "the body could not be read")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{Apps: miniback.Apps{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			h := s.Handler()
			s.handle("GET /test/abandon", func(w http.ResponseWriter, r *http.Request) error {
				r.Context().Value(cancelKey{}).(context.CancelFunc)() // the client hangs up
				return tt.err
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(context.WithValue(ctx, cancelKey{}, cancel), "GET", "/test/abandon", nil)
			h.ServeHTTP(httptest.NewRecorder(), req)
			out := logs.String()
			if strings.Contains(out, `"level":"ERROR"`) || strings.Contains(out, `"level":"WARN"`) {
				t.Errorf("logged as an error: %s", out)
			}
			if !strings.Contains(out, `"status":499`) {
				t.Errorf("request line without status 499: %s", out)
			}
		})
	}
}

type cancelKey struct{}
