package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// TestExposedSandboxWarning: an embedded sandbox reachable beyond the
// loopback interface is announced on stdout and in the log; on loopback
// nothing is printed (issue #6 item 8).
func TestExposedSandboxWarning(t *testing.T) {
	tests := []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:8080", false},
		{"[::1]:8080", false},
		{"localhost:8080", false},
		{"0.0.0.0:8080", true},
		{"[::]:8080", true},
		{":8080", true},
		{"192.168.1.20:8080", true},
	}
	for _, tt := range tests {
		var out, logs bytes.Buffer
		m := &Main{Stdout: &out, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
		m.warnExposedSandbox(tt.addr)
		if got := strings.Contains(out.String(), "WARNING") && strings.Contains(out.String(), "/sandbox/"); got != tt.warn {
			t.Errorf("%s: stdout %q, want warning %v", tt.addr, out.String(), tt.warn)
		}
		if got := strings.Contains(logs.String(), `"level":"WARN"`); got != tt.warn {
			t.Errorf("%s: log %q, want warning %v", tt.addr, logs.String(), tt.warn)
		}
	}
}

// TestExposedSandboxWarnsOnStart: Main with the embedded sandbox on every
// interface prints the warning when it opens; on loopback it prints none
// (issue #6 item 8).
func TestExposedSandboxWarnsOnStart(t *testing.T) {
	for _, tt := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}} {
		out := &syncBuffer{}
		e := startMainWith(t, func(c *config.Config) { c.Listen = tt.listen }, func(m *Main) { m.Stdout = out })
		e.login("wes") // the instance serves either way
		if got := strings.Contains(out.String(), "WARNING"); got != tt.warn {
			t.Errorf("listen %s: stdout %q, want warning %v", tt.listen, out.String(), tt.warn)
		}
	}
}
