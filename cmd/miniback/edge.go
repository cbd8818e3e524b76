package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/gateway"
)

// breakerConfig is the configuration of every circuit breaker; state
// changes are logged.
func breakerConfig(cfg config.Config, log *slog.Logger) gateway.BreakerConfig {
	b := cfg.Breaker
	return gateway.BreakerConfig{
		Failures: b.Failures, Ratio: b.Ratio, MinCalls: b.MinCalls, Window: b.Window, OpenFor: b.OpenFor, Probes: b.Probes,
		OnStateChange: func(name, from, to string) {
			log.Warn("circuit breaker changed state", "breaker", name, "from", from, "to", to)
		},
	}
}

// weChatTransport is the transport of every WeChat client: the system roots
// plus wechat.ca_file, behind one circuit breaker per WeChat host.
func weChatTransport(cfg config.Config, log *slog.Logger) (*gateway.HostBreakers, error) {
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 64,
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
	return &gateway.HostBreakers{Next: t, Config: breakerConfig(cfg, log.With("component", "wechat"))}, nil
}

// openLimiter returns the rate limiter: in Redis when redisURL is set (all
// instances share the counters), else in this process.
func openLimiter(redisURL, prefix string) (gateway.Limiter, func() error, error) {
	if redisURL == "" {
		return &gateway.MemoryLimiter{}, func() error { return nil }, nil
	}
	client, err := redisClient(redisURL)
	if err != nil {
		return nil, nil, &config.Error{Key: "redis.url", Msg: "is not a Redis URL", Err: err}
	}
	return gateway.NewRedisLimiter(client, prefix), client.Close, nil
}

// redisClient opens redis://, rediss:// and redis+cluster://h1:p,h2:p URLs.
func redisClient(raw string) (redis.UniversalClient, error) {
	if rest, ok := strings.CutPrefix(raw, "redis+cluster://"); ok {
		u, err := url.Parse("redis://" + rest)
		if err != nil {
			return nil, err
		}
		opts := &redis.ClusterOptions{Addrs: strings.Split(u.Host, ",")}
		if u.User != nil {
			opts.Username = u.User.Username()
			opts.Password, _ = u.User.Password()
		}
		return redis.NewClusterClient(opts), nil
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
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
func newGateway(cfg config.Config, own []string, writeError func(http.ResponseWriter, *http.Request, error), log *slog.Logger) (*gateway.Gateway, error) {
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
	return gateway.New(gateway.Config{Routes: routes, Breaker: breakerConfig(cfg, log), Proxies: proxiesOf(cfg),
		WriteError: writeError, Logger: log}), nil
}

// tlsConfig is the server's TLS configuration, or nil without tls.cert_file.
func tlsConfig(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil
	}
	for key, f := range map[string]string{"tls.cert_file": cfg.TLS.CertFile, "tls.key_file": cfg.TLS.KeyFile} {
		if _, err := os.ReadFile(f); err != nil {
			return nil, &config.Error{Key: key, Msg: "cannot read the file", Err: err}
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
