package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestConsoleServedWithHeaders(t *testing.T) {
	e := startMain(t, withAdmin)
	for _, path := range []string{"/console/", "/console/app.js", "/console/style.css"} {
		resp, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Set-Cookie") != "" {
			t.Fatalf("%s: headers %v", path, h)
		}
	}
	var ea errorAnswer
	if st, _ := e.do("GET", "/console/nope.js", "", nil, &ea); st != 404 || ea.Error.Code != "not_found" {
		t.Fatalf("missing file: %d %+v", st, ea)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(e.base + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("/console: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestConsoleDisabledWithoutAdminKeys(t *testing.T) {
	e := startMain(t, nil)
	var ea errorAnswer
	if st, _ := e.do("GET", "/console/", "", nil, &ea); st != 404 || ea.Error.Code != "not_found" {
		t.Fatalf("console without keys: %d %+v", st, ea)
	}
}
