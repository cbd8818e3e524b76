package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/session"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz runs every check at once, each with a short deadline of
// its own (a dependency that is down and slow to say so must not make the
// next check time out), and answers 503 naming the ones that failed.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	errs := make([]error, len(s.Ready))
	var wg sync.WaitGroup
	for i, c := range s.Ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			errs[i] = c.Func(ctx)
		})
	}
	wg.Wait()
	checks := map[string]string{}
	failed := false
	for i, c := range s.Ready {
		checks[c.Name] = "ok"
		if errs[i] != nil {
			checks[c.Name] = "unreachable"
			failed = true
		}
	}
	if failed {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "unavailable", "checks": checks,
			"error": errorDetail{Code: miniback.ECodeUnavailable, Message: "a dependency is unreachable"},
		})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
	return nil
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, session.JWKSOf(s.Tokens.Key))
	return nil
}
