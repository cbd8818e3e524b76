package api

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/miniback/miniback"
)

// consoleFS holds the admin console: plain HTML, CSS and ES modules, served
// as they are (no build step). The console calls only the public admin API
// with the key the operator types; it has no route of its own.
//
//go:embed console
var consoleFS embed.FS

// consoleCSP allows only this origin's own files: no inline script or
// style, no framing, no form posts elsewhere.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) consoleRoutes() {
	files, err := fs.Sub(consoleFS, "console")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	static := http.StripPrefix("/console/", http.FileServerFS(files))
	s.handle("GET /console/", func(w http.ResponseWriter, r *http.Request) error {
		if len(s.AdminKeys) == 0 {
			return miniback.Errorf(miniback.ECodeNotFound, "the console is disabled: set admin.api_keys")
		}
		if name := strings.TrimPrefix(r.URL.Path, "/console/"); name != "" {
			if _, err := fs.Stat(files, name); err != nil {
				return miniback.Errorf(miniback.ECodeNotFound, "no such console file")
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
		return nil
	})
	s.handle("GET /console", func(w http.ResponseWriter, r *http.Request) error {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
		return nil
	})
}
