package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
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
