package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/load"
)

// TestLoadAgainstSandboxServer runs `miniback load` for a few seconds
// against an in-process sandbox-mode server, checks the report's shape,
// and checks that its counts per route and status agree with the
// server's own /metrics.
func TestLoadAgainstSandboxServer(t *testing.T) {
	e := startMain(t, nil)
	html := filepath.Join(t.TempDir(), "load.html")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "--target", e.base, "--duration", "2s", "--users", "4",
		"--mix", "me=10,login=1,refresh=1,phone=1,push=2", "--json", "--report", html}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("not a terminal, yet stderr has %q", stderr.String())
	}
	var rep load.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout.String())
	}
	if rep.Model != "closed" || rep.Errors != 0 || rep.Requests == 0 || len(rep.Series) < 2 {
		t.Fatalf("report: model %s, %d requests, %d errors, %d seconds of series", rep.Model, rep.Requests, rep.Errors, len(rep.Series))
	}
	metrics := scrapeRequests(t, e.base)
	seen := map[string]bool{}
	for _, s := range rep.Steps {
		seen[s.Step] = true
		if s.Count == 0 || s.P50ms <= 0 || s.P99ms < s.P50ms || s.Maxms < s.P99ms || len(s.Histogram) == 0 {
			t.Errorf("step %s: %+v", s.Step, s)
		}
		if strings.HasPrefix(s.Step, "sandbox_") {
			continue // the embedded sandbox is mounted beside the API, outside its metrics
		}
		for status, n := range s.Statuses {
			if got := metrics[s.Route+" "+status]; got != n {
				t.Errorf("%s %s: report %d, /metrics %v", s.Route, status, n, got)
			}
		}
	}
	for _, step := range []string{"me", "login", "refresh", "phone", "push", "sandbox_code", "sandbox_phone_code"} {
		if !seen[step] {
			t.Errorf("no %s row", step)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("--report: %v", err)
	}
}

// scrapeRequests reads miniback_http_requests_total from /metrics, keyed
// "route status".
func scrapeRequests(t *testing.T, base string) map[string]int64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "miniback_http_requests_total{") {
			continue
		}
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "miniback_http_requests_total{"), "} ")
		route, status := label(labels, "route"), label(labels, "status")
		n, _ := strconv.ParseFloat(value, 64)
		out[route+" "+status] += int64(n)
	}
	return out
}

func label(labels, name string) string {
	_, rest, ok := strings.Cut(labels, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestLoadBadInput(t *testing.T) {
	cases := []struct {
		name string
		args []string
		flag string
	}{
		{"no target", []string{}, "--target"},
		{"remote target", []string{"--target", "http://203.0.113.7:8080"}, "--target"},
		{"unknown step", []string{"--target", "http://127.0.0.1:1", "--mix", "me=1,dance=2"}, "--mix"},
		{"zero rate", []string{"--target", "http://127.0.0.1:1", "--rate", "0"}, "--rate"},
		{"negative rate", []string{"--target", "http://127.0.0.1:1", "--rate", "-10"}, "--rate"},
		{"zero duration", []string{"--target", "http://127.0.0.1:1", "--duration", "0s"}, "--duration"},
		{"negative duration", []string{"--target", "http://127.0.0.1:1", "--duration", "-3s"}, "--duration"},
		{"zero users", []string{"--target", "http://127.0.0.1:1", "--users", "0"}, "--users"},
		{"not a number", []string{"--target", "http://127.0.0.1:1", "--rate", "fast"}, "-rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"load"}, c.args...), nil, &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), c.flag) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr.String(), c.flag)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

// TestLoadTargetDown: a target nobody answers is reported (exit 1 with the
// report), not a crash.
func TestLoadTargetDown(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"load", "--target", "http://127.0.0.1:1", "--duration", "1s", "--users", "2"}, nil, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Fatalf("exit %d; want 1", code)
	}
	if !strings.Contains(stdout.String(), "connection refused") || !strings.Contains(stdout.String(), "no request succeeded") {
		t.Errorf("report: %s", stdout.String())
	}
}
