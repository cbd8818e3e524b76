package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

func TestLoggerLevelAndFormat(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(config.Log{Level: "warn", Format: "text"}, &buf)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN msg=shown k=v") {
		t.Fatalf("text logger at warn wrote %q", out)
	}
	buf.Reset()
	log = newLogger(config.Log{Level: "debug", Format: "json"}, &buf)
	log.Debug("shown")
	if out := buf.String(); !strings.Contains(out, `"level":"DEBUG","msg":"shown"`) {
		t.Fatalf("json logger at debug wrote %q", out)
	}
}

// TestRequestLogOff: with log.requests false no request is logged, while
// the metrics still count it.
func TestRequestLogOff(t *testing.T) {
	e := startMain(t, func(c *config.Config) { c.Log.Requests = false })
	e.do("GET", "/healthz", "", nil, nil)
	if strings.Contains(e.logs.String(), `"msg":"request"`) {
		t.Fatal("a request was logged with log.requests false")
	}
	fams, _ := scrape(t, e.base)
	if value(fams, "miniback_http_requests_total", "route", "GET /healthz", "status", "200") != 1 {
		t.Fatal("the request was not counted")
	}
}
