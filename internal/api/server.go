// Package api serves miniback's HTTP interface (SPEC §3): the mini-program
// API, the admin API and the operations routes. Handlers return errors;
// one adapter turns them into SPEC's error JSON through the table in
// errors.go.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/metrics"
	"github.com/miniback/miniback/internal/session"
	"github.com/miniback/miniback/wechat"
)

// Check is one readiness probe of /readyz.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// Server holds what the handlers need. Every field is set by the caller
// (cmd/miniback) before Handler is called; the Server is then safe for
// concurrent use.
type Server struct {
	Apps      miniback.Apps
	Users     miniback.UserStore
	Sessions  miniback.SessionStore
	Inbox     miniback.InboxStore
	Messages  miniback.MessageStore
	Media     miniback.MediaStore
	Stats     miniback.StatsStore
	Outbox    Outbox
	Portal    Portal
	Analytics Analytics // nil: no analytics routes
	AdminKeys []string
	Tokens    *session.Issuer
	// Live, when set, caches the revocation check per instance; Handler
	// wraps Sessions and Users so that their writes invalidate it. It is
	// used only with a store that implements miniback.SessionReader.
	Live   *session.Live
	Sealer *session.Sealer
	WeChat map[string]*wechat.Client // by appid
	// State, when set, is shared by every instance of the deployment: a
	// mini-program code asked for on several instances at once is then
	// fetched from WeChat by one of them (see fetchCode).
	State miniback.StateStore
	// Unavailable, when set, tells the errors of a dependency that cannot
	// serve now (database, state store, queue down, read-only, full) from
	// bugs: they are answered 503 unavailable instead of 500.
	Unavailable func(error) bool
	RefreshTTL  time.Duration
	Ready       []Check
	Pay         PayService // nil: no pay routes
	Logger      *slog.Logger
	Registry    *prometheus.Registry // served at /metrics; nil: no /metrics route (metrics.listen serves it)
	Metrics     *metrics.Metrics     // nil: private metrics nothing exposes
	// NoRequestLog stops the one log line per request (log.requests:
	// false); the metrics still count every request.
	NoRequestLog bool
	Now          func() time.Time

	// The edge (SPEC §14): gateway routes tried after every own route, the
	// rate limits (off with a nil Limiter) and the proxies trusted to name
	// the client.
	Gateway *gateway.Gateway
	Limiter gateway.Limiter
	Limits  Limits
	Proxies gateway.Proxies

	mux        *http.ServeMux
	codes      codeFlight
	routesMu   sync.Mutex
	patterns   []string              // registered routes, for Routes
	live       *session.LiveSessions // Sessions, when Live caches its checks
	identities identityCache
}

// Portal is the message-push endpoint /wx/portal/{appid} (internal/inbox).
type Portal interface {
	ServeVerify(w http.ResponseWriter, r *http.Request) error
	ServeMessage(w http.ResponseWriter, r *http.Request) error
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler returns the HTTP handler with every route and the middleware.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	s.mux = http.NewServeMux()
	if s.Metrics == nil {
		s.Metrics = defaultMetrics(s.Apps)
	}
	if s.Live != nil {
		if s.Live.Encode == nil {
			s.Live.Encode = func(u *miniback.User) []byte { return encodeJSON(u) }
		}
		if ls := s.Live.Sessions(s.Sessions); ls != nil {
			s.live, s.Sessions, s.Users = ls, ls, s.Live.Users(s.Users)
		}
	}
	s.routes()
	return s.withRequestID(s.withLogging(s.withRecover(s.mux)))
}

func (s *Server) routes() {
	s.handle("POST /api/v1/{appid}/login", s.handleLogin)
	s.handle("POST /api/v1/{appid}/token/refresh", s.handleRefresh)
	s.handle("POST /api/v1/{appid}/logout", s.authed(s.handleLogout))
	s.handle("GET /api/v1/{appid}/me", s.authed(s.handleMe))
	s.handle("PATCH /api/v1/{appid}/me", s.authed(s.handlePatchMe))
	// wx.request cannot send PATCH: the mini program posts the same body.
	s.handle("POST /api/v1/{appid}/me", s.authed(s.handlePatchMe))
	s.handle("POST /api/v1/{appid}/me/phone", s.authed(s.handlePhone))
	s.handle("POST /api/v1/{appid}/me/userinfo", s.authed(s.handleUserInfo))
	s.handle("POST /api/v1/{appid}/media", s.authed(s.handleUploadMedia))
	s.handle("GET /api/v1/{appid}/media/{media_id}", s.authed(s.handleGetMedia))
	s.handle("POST /api/v1/{appid}/wxacode", s.authed(s.handleWxaCode))
	s.adminRoutes()
	s.analyticsRoutes()
	s.consoleRoutes()
	s.payRoutes()
	if s.Portal != nil {
		s.handle("GET /wx/portal/{appid}", s.Portal.ServeVerify)
		s.handle("POST /wx/portal/{appid}", s.Portal.ServeMessage)
	}

	s.handle("GET /healthz", s.handleHealthz)
	s.handle("GET /readyz", s.handleReadyz)
	s.handle("GET /.well-known/jwks.json", s.handleJWKS)
	s.handle("GET /openapi.json", s.handleOpenAPI)
	if s.Registry != nil {
		s.register("GET /metrics", MetricsHandler(s.Registry))
	}
	s.handle("/", s.handleNoRoute)
}

// handle registers h for pattern. Routes with {appid} answer 404
// app_not_found for an appid this process does not serve.
func (s *Server) handle(pattern string, h handlerFunc) {
	h = s.withLimits(pattern, h)
	s.register(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if appid := r.PathValue("appid"); appid != "" {
			if _, err := s.Apps.Get(appid); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}))
}

// handleNoRoute tells an unknown path (404) from a known one called with
// the wrong method (405).
func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) error {
	if s.Gateway != nil {
		if rt, ok := s.Gateway.Match(r.URL.EscapedPath()); ok {
			return s.serveGateway(w, r, rt)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			w.Header().Add("Allow", m)
		}
	}
	if w.Header().Get("Allow") != "" {
		return miniback.Errorf(ECodeMethodNotAllowed, "%s is not allowed on this route", r.Method)
	}
	return miniback.Errorf(miniback.ECodeNotFound, "no such route")
}

// appOf returns the app named by the request path; handle already checked it.
func (s *Server) appOf(r *http.Request) *miniback.App {
	app, _ := s.Apps.Get(r.PathValue("appid"))
	return app
}
