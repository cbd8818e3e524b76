package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/metrics"
	redisstate "github.com/miniback/miniback/internal/state/redis"
)

// breakerConfig is the configuration of every circuit breaker; state
// changes are logged.
func breakerConfig(cfg config.Config, mt *metrics.Metrics, log *slog.Logger) gateway.BreakerConfig {
	b := cfg.Breaker
	return gateway.BreakerConfig{
		Failures: b.Failures, Ratio: b.Ratio, MinCalls: b.MinCalls, Window: b.Window, OpenFor: b.OpenFor, Probes: b.Probes,
		OnStateChange: func(name, from, to string) {
			log.Warn("circuit breaker changed state", "breaker", name, "from", from, "to", to)
			if mt != nil {
				mt.SetCircuitState(name, circuitStates[to])
			}
		},
		OnCreate: func(name string) {
			if mt != nil {
				mt.SetCircuitState(name, metrics.CircuitClosed)
			}
		},
	}
}

// circuitStates maps gobreaker's state names to the gauge's values.
var circuitStates = map[string]int{"closed": metrics.CircuitClosed, "half-open": metrics.CircuitHalfOpen, "open": metrics.CircuitOpen}

// weChatTransport is the transport of every WeChat client: the system roots
// plus wechat.ca_file, behind one circuit breaker per WeChat host.
func weChatTransport(cfg config.Config, mt *metrics.Metrics, log *slog.Logger) (*gateway.HostBreakers, error) {
	// Every login calls code2session: under load hundreds of calls are in
	// flight to one host; keep that many connections for reuse rather
	// than open one (TCP and TLS) per call.
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if cfg.WeChat.CAFile != "" {
		pem, err := os.ReadFile(cfg.WeChat.CAFile)
		if err != nil {
			return nil, &config.Error{Key: "wechat.ca_file", Msg: "cannot read the file", Err: err}
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, &config.Error{Key: "wechat.ca_file", Msg: "holds no PEM certificate"}
		}
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return &gateway.HostBreakers{Next: t, Config: breakerConfig(cfg, mt, log.With("component", "wechat"))}, nil
}

// newLimiter returns the rate limiter: in the state store's Redis when
// redis.url is set (every instance shares the counters, under redis.prefix
// then "ratelimit:"), else in this process.
func newLimiter(state miniback.StateStore) gateway.Limiter {
	if rs, ok := state.(*redisstate.Store); ok {
		return gateway.NewRedisLimiter(rs.Client(), rs.Prefix()+"ratelimit:")
	}
	return &gateway.MemoryLimiter{}
}

func toRate(r config.Rate) gateway.Rate { return gateway.Rate{N: r.N, Per: r.Per} }

func limitsOf(cfg config.Config) api.Limits {
	l := cfg.Limits
	return api.Limits{LoginPerIP: toRate(l.LoginPerIP), APIPerUser: toRate(l.APIPerUser), APIPerIP: toRate(l.APIPerIP),
		AdminPerKey: toRate(l.AdminPerKey), PushPerApp: toRate(l.PushPerApp)}
}

func proxiesOf(cfg config.Config) gateway.Proxies {
	var p gateway.Proxies
	for _, s := range cfg.Server.TrustedProxies {
		pr, _ := config.ParsePrefix(s) // validated at load
		p = append(p, pr)
	}
	return p
}

// newGateway builds the gateway routes, refusing a route whose prefix
// shares paths with one of miniback's own routes.
func newGateway(cfg config.Config, own []string, writeError func(http.ResponseWriter, *http.Request, error), mt *metrics.Metrics, log *slog.Logger) (*gateway.Gateway, error) {
	if len(cfg.Gateway.Routes) == 0 {
		return nil, nil
	}
	apps := map[string]bool{}
	for _, a := range cfg.Apps {
		apps[a.AppID] = true
	}
	routes := make([]gateway.RouteConfig, 0, len(cfg.Gateway.Routes))
	for i, r := range cfg.Gateway.Routes {
		if pat, ok := gateway.Overlaps(r.Prefix, own); ok {
			return nil, &config.Error{Key: fmt.Sprintf("gateway.routes[%d].prefix", i), Msg: "overlaps miniback's own route " + pat}
		}
		rc := gateway.RouteConfig{Prefix: r.Prefix, AppSegment: config.RouteAppIDSegment(r.Prefix, apps),
			StripPrefix: r.StripPrefix, Auth: r.Auth, Timeout: r.Timeout, Retries: r.Retries, MaxBody: int64(r.MaxBody),
			HealthPath: r.HealthPath, HealthInterval: r.HealthInterval}
		for _, u := range r.Upstreams {
			pu, _ := url.Parse(u) // validated at load
			rc.Upstreams = append(rc.Upstreams, pu)
		}
		routes = append(routes, rc)
	}
	return gateway.New(gateway.Config{Routes: routes, Breaker: breakerConfig(cfg, mt, log), Proxies: proxiesOf(cfg),
		WriteError: writeError, Logger: log}), nil
}

// tlsConfig is the server's TLS configuration, or nil without tls.cert_file.
func tlsConfig(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil
	}
	for _, f := range []struct{ key, path string }{{"tls.cert_file", cfg.TLS.CertFile}, {"tls.key_file", cfg.TLS.KeyFile}} {
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, &config.Error{Key: f.key, Msg: "cannot read the file", Err: err}
		}
	}
	certs, err := gateway.NewCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, log)
	if err != nil {
		return nil, &config.Error{Key: "tls.cert_file", Msg: "the certificate and key do not load as a pair", Err: err}
	}
	minVersion := uint16(tls.VersionTLS12)
	if cfg.TLS.MinVersion == "1.3" {
		minVersion = tls.VersionTLS13
	}
	return &tls.Config{MinVersion: minVersion, GetCertificate: certs.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}, nil
}
