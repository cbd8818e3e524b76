package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Auth modes of a route.
const (
	AuthRequired = "required" // a valid access token for the path's appid, else 401
	AuthOptional = "optional" // identity headers when a token is given
	AuthNone     = "none"     // no identity, tokens not looked at
)

// RouteConfig is one route (SPEC §14.1).
type RouteConfig struct {
	Prefix         string // starts and ends with "/"; a {appid} segment matches any app
	AppSegment     int    // index of the path segment naming the app ({appid} or literal), -1 for none
	Upstreams      []*url.URL
	StripPrefix    bool
	Auth           string
	Timeout        time.Duration // per attempt, the whole exchange
	Retries        int           // extra attempts, idempotent methods only
	MaxBody        int64
	HealthPath     string // "" = no active health check
	HealthInterval time.Duration
}

// Config configures a Gateway.
type Config struct {
	Routes  []RouteConfig
	Breaker BreakerConfig
	Proxies Proxies
	// Transport makes the upstream calls; nil is a tuned http.Transport.
	Transport http.RoundTripper
	// WriteError answers a failed request (an *miniback.Error) in SPEC's shape.
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	Logger     *slog.Logger
}

// Gateway routes requests to upstreams. Create it with New; it is safe for
// concurrent use. Run performs the active health checks.
type Gateway struct {
	routes []*Route // longest prefix first
	cfg    Config
	log    *slog.Logger
}

// New builds the routes of cfg.
func New(cfg Config) *Gateway {
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:                 nil, // upstreams are the team's own services
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   128,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger}
	for _, rc := range cfg.Routes {
		g.routes = append(g.routes, g.newRoute(rc))
	}
	slices.SortStableFunc(g.routes, func(a, b *Route) int { return len(b.segs) - len(a.segs) })
	return g
}

// Route is one configured route with its upstreams.
type Route struct {
	cfg     RouteConfig
	segs    []string // prefix segments without the slashes
	appSeg  int      // index of the segment naming the app, -1 for none
	ups     []*upstream
	next    atomic.Uint64
	proxy   *httputil.ReverseProxy
	g       *Gateway
	through http.RoundTripper
}

type upstream struct {
	url     *url.URL
	breaker *Breaker
	healthy atomic.Bool
}

func (g *Gateway) newRoute(rc RouteConfig) *Route {
	rt := &Route{cfg: rc, segs: splitPath(rc.Prefix), appSeg: rc.AppSegment, g: g, through: g.cfg.Transport}
	for _, u := range rc.Upstreams {
		up := &upstream{url: u, breaker: NewBreaker(u.String(), g.cfg.Breaker)}
		up.healthy.Store(true)
		rt.ups = append(rt.ups, up)
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:      rt.rewrite,
		Transport:    rt,
		ErrorHandler: rt.proxyError,
		ErrorLog:     slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
		BufferPool:   bufferPool{},
	}
	return rt
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// Match returns the route whose prefix is the longest one matching the
// escaped path.
func (g *Gateway) Match(escapedPath string) (*Route, bool) {
	segs := splitPath(escapedPath)
	for _, rt := range g.routes {
		if rt.matches(segs) {
			return rt, true
		}
	}
	return nil, false
}

func (rt *Route) matches(segs []string) bool {
	if len(segs) < len(rt.segs) {
		return false
	}
	for i, s := range rt.segs {
		if s != segs[i] && !(s == "{appid}" && segs[i] != "") {
			return false
		}
	}
	return true
}

// AppID returns the appid named by escapedPath for this route, "" when the
// route names none.
func (rt *Route) AppID(escapedPath string) string {
	if rt.appSeg < 0 {
		return ""
	}
	segs := splitPath(escapedPath)
	if rt.appSeg >= len(segs) {
		return ""
	}
	id, err := url.PathUnescape(segs[rt.appSeg])
	if err != nil {
		return ""
	}
	return id
}

// Auth returns the route's auth mode.
func (rt *Route) Auth() string { return rt.cfg.Auth }

// Prefix returns the configured prefix.
func (rt *Route) Prefix() string { return rt.cfg.Prefix }

// Run polls the health paths of every route that has one until ctx ends.
func (g *Gateway) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rt := range g.routes {
		if rt.cfg.HealthPath == "" {
			continue
		}
		for _, up := range rt.ups {
			wg.Go(func() { rt.watch(ctx, up) })
		}
	}
	wg.Wait()
}

// watch checks up now and then every HealthInterval.
func (rt *Route) watch(ctx context.Context, up *upstream) {
	t := time.NewTicker(rt.cfg.HealthInterval)
	defer t.Stop()
	for {
		ok := rt.check(ctx, up)
		if ctx.Err() != nil {
			return
		}
		if was := up.healthy.Swap(ok); was != ok {
			rt.g.log.Warn("gateway: upstream health changed", "route", rt.cfg.Prefix, "upstream", up.url.String(), "healthy", ok)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check is one health probe: a 2xx answer to GET health_path in time.
func (rt *Route) check(ctx context.Context, up *upstream) bool {
	ctx, cancel := context.WithTimeout(ctx, min(rt.cfg.Timeout, rt.cfg.HealthInterval))
	defer cancel()
	u := *up.url
	u.Path = strings.TrimRight(u.Path, "/") + rt.cfg.HealthPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false
	}
	resp, err := rt.through.RoundTrip(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// bufferPool lends the 32 KiB copy buffers of the proxy.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
