package api

import (
	"context"
	"net/http"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/session"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz runs every check with a short deadline and answers 503
// naming the ones that failed.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	failed := false
	for _, c := range s.Ready {
		if err := c.Func(ctx); err != nil {
			checks[c.Name] = "unreachable"
			failed = true
			continue
		}
		checks[c.Name] = "ok"
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
