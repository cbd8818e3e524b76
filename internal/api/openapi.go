package api

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument is the OpenAPI 3.1 description of every route Handler
// registers outside the sandbox, served at GET /openapi.json. A test in
// cmd/miniback compares it with Routes, and the end-to-end tests validate
// their requests and answers against it: a new route needs its entry here.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the embedded OpenAPI document (a copy).
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, err := w.Write(openAPIDocument)
	return err
}

// Routes returns the patterns registered by Handler and Handle, such as
// "POST /api/v1/{appid}/login", sorted; the catch-all "/" is left out.
func (s *Server) Routes() []string {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	out := slices.Clone(s.patterns)
	slices.Sort(out)
	return out
}

// register records pattern for Routes and hands h to the mux. Every route
// goes through it so that the OpenAPI test sees it.
func (s *Server) register(pattern string, h http.Handler) {
	if pattern != "/" {
		s.routesMu.Lock()
		s.patterns = append(s.patterns, pattern)
		s.routesMu.Unlock()
	}
	s.mux.Handle(pattern, h)
}
