package config

import (
	"testing"
	"time"
)

// TestEdgeDefaults: the defaults of SPEC §14 — every limit off, the
// breaker's 5 failures / 0.5 over 20 calls in 10 s / 30 s open / 3 probes,
// TLS 1.2, and a route's auth required, 30 s timeout, no retry, 1 MiB
// body and 10 s health interval — and the contract's example as written.
func TestEdgeDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, "c.yaml", validYAML+`
gateway:
  routes:
    - prefix: "/api/v1/{appid}/shop/"
      upstreams: ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    - prefix: "/api/v1/{appid}/cart/"
      upstreams: ["https://cart.internal"]
      strip_prefix: true
      auth: optional
      timeout: 5s
      retries: 1
      max_body: 2MiB
      health_path: /healthz
      health_interval: 3s
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Limits != (Limits{}) {
		t.Errorf("limits = %+v, want every one off", cfg.Limits)
	}
	if want := (Breaker{Failures: 5, Ratio: 0.5, MinCalls: 20, Window: 10 * time.Second, OpenFor: 30 * time.Second, Probes: 3}); cfg.Breaker != want {
		t.Errorf("breaker = %+v, want %+v", cfg.Breaker, want)
	}
	if cfg.TLS != (TLS{MinVersion: "1.2"}) {
		t.Errorf("tls = %+v, want min_version 1.2 and no certificate", cfg.TLS)
	}
	routes := cfg.Gateway.Routes
	if len(routes) != 2 {
		t.Fatalf("%d routes", len(routes))
	}
	if r := routes[0]; r.Auth != "required" || r.Timeout != 30*time.Second || r.Retries != 0 || r.MaxBody != 1<<20 ||
		r.HealthPath != "" || r.HealthInterval != 10*time.Second || r.StripPrefix {
		t.Errorf("route defaults = %+v", r)
	}
	if r := routes[1]; r.Auth != "optional" || r.Timeout != 5*time.Second || r.Retries != 1 || r.MaxBody != 2<<20 ||
		r.HealthPath != "/healthz" || r.HealthInterval != 3*time.Second || !r.StripPrefix {
		t.Errorf("route as written = %+v", r)
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"0", Rate{}, true},
		{"30/m", Rate{N: 30, Per: time.Minute}, true},
		{"5/s", Rate{N: 5, Per: time.Second}, true},
		{"1000/h", Rate{N: 1000, Per: time.Hour}, true},
		{"ten/m", Rate{}, false},
		{"5/d", Rate{}, false},
		{"-1/m", Rate{}, false},
		{"30", Rate{}, false},
		{"", Rate{}, false},
	} {
		got, err := ParseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
