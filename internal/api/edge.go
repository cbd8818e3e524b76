package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
)

// Limits are the rate limits of SPEC §14.3; a zero Rate is off.
type Limits struct {
	LoginPerIP  gateway.Rate
	APIPerUser  gateway.Rate
	APIPerIP    gateway.Rate
	AdminPerKey gateway.Rate
	PushPerApp  gateway.Rate
}

// WriteError answers err in SPEC's error JSON, as every handler's error is
// answered; the gateway uses it for its own failures.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// withLimits wraps the handler of pattern in the limits that apply to it:
// every mini-program route per client IP, login and refresh also by
// login_per_ip, and the push endpoint per app (never per IP: WeChat's
// servers share addresses). Per-user and per-key limits are taken once the
// caller is known (authed, admin).
func (s *Server) withLimits(pattern string, h handlerFunc) handlerFunc {
	method, path, _ := strings.Cut(pattern, " ")
	type check struct {
		kind string
		rate gateway.Rate
		key  func(r *http.Request) string
	}
	var checks []check
	ip := func(r *http.Request) string { return s.Proxies.ClientIP(r) }
	if strings.HasPrefix(path, "/api/v1/") {
		checks = append(checks, check{"api_per_ip", s.Limits.APIPerIP, ip})
		if strings.HasSuffix(path, "/login") || strings.HasSuffix(path, "/token/refresh") {
			checks = append(checks, check{"login_per_ip", s.Limits.LoginPerIP, ip})
		}
	}
	if strings.HasPrefix(path, "/wx/portal/") && method == http.MethodPost {
		checks = append(checks, check{"push_per_app", s.Limits.PushPerApp, func(r *http.Request) string { return r.PathValue("appid") }})
	}
	if len(checks) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		for _, c := range checks {
			if c.rate.IsZero() || s.Limiter == nil {
				continue // off: no key to compute (the client IP costs allocations)
			}
			if err := s.limit(w, r, c.kind, c.key(r), c.rate); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

// limit takes one request from the bucket kind:key (kind is the limit's
// name under limits, also its metrics label). Over the limit it
// returns a rate_limited Error with RetryAfter; either way it sets the
// RateLimit-* headers of the tightest limit met so far. When the limiter's
// store cannot be reached the request is let through and logged: a Redis
// outage must not take the API down.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, kind, key string, rate gateway.Rate) error {
	if rate.IsZero() || s.Limiter == nil {
		return nil
	}
	d, err := s.Limiter.Allow(r.Context(), kind+":"+key, rate)
	if err != nil {
		s.Logger.Warn("rate limit not checked", "kind", kind, "error", err.Error())
		return nil
	}
	h := w.Header()
	if prev, err := strconv.Atoi(h.Get("RateLimit-Remaining")); err != nil || d.Remaining <= prev || !d.Allowed {
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	}
	if d.Allowed {
		return nil
	}
	if s.Metrics != nil {
		s.Metrics.RateLimited(kind)
	}
	return &miniback.Error{Code: miniback.ECodeRateLimited, Message: "too many requests; slow down and retry later",
		RetryAfter: time.Duration(max(ceilSeconds(d.RetryAfter), 1)) * time.Second}
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// adminKeyID names an admin key in limiter keys without revealing it.
func adminKeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// serveGateway forwards a request that matched a gateway route, after the
// per-IP limit, the route's authentication and the per-user limit.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request, rt *gateway.Route) error {
	if err := s.limit(w, r, "api_per_ip", s.Proxies.ClientIP(r), s.Limits.APIPerIP); err != nil {
		return err
	}
	id := gateway.Identity{AppID: rt.AppID(r.URL.EscapedPath())}
	if id.AppID != "" {
		if _, err := s.Apps.Get(id.AppID); err != nil {
			return err
		}
	}
	_, hasToken := bearer(r)
	if rt.Auth() == gateway.AuthRequired || (rt.Auth() == gateway.AuthOptional && hasToken) {
		a, _, user, _, err := s.authenticate(r, id.AppID)
		if err != nil {
			return err
		}
		if err := s.limit(w, r, "api_per_user", a.AppID+":"+strconv.FormatInt(a.UserID, 10), s.Limits.APIPerUser); err != nil {
			return err
		}
		if user != nil { // read with the session
			id = gateway.Identity{AppID: a.AppID, UserID: a.UserID, OpenID: user.OpenID, UnionID: user.UnionID}
		} else if id, err = s.identities.lookup(r.Context(), s.Users, a.AppID, a.UserID, s.Now()); err != nil {
			return err
		}
	}
	rt.ServeHTTP(w, r.WithContext(gateway.WithIdentity(r.Context(), id)))
	return nil
}

// identityCache keeps the openid and unionid of recent gateway callers for
// a minute, so a forwarded request does not read the user row each time.
// An openid never changes; a unionid appears at most a minute late.
type identityCache struct {
	mu sync.Mutex
	m  map[string]cachedIdentity
}

type cachedIdentity struct {
	id gateway.Identity
	at time.Time
}

const (
	identityTTL     = time.Minute
	identityMaxKeys = 100_000
)

func (c *identityCache) lookup(ctx context.Context, users miniback.UserStore, appid string, userID int64, now time.Time) (gateway.Identity, error) {
	key := appid + ":" + strconv.FormatInt(userID, 10)
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < identityTTL {
		return e.id, nil
	}
	u, err := users.User(ctx, appid, userID)
	if miniback.IsNotFound(err) {
		return gateway.Identity{}, miniback.Errorf(miniback.ECodeUnauthorized, "the user of this token no longer exists")
	}
	if err != nil {
		return gateway.Identity{}, err
	}
	id := gateway.Identity{AppID: appid, UserID: userID, OpenID: u.OpenID, UnionID: u.UnionID}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= identityMaxKeys {
		c.m = map[string]cachedIdentity{}
	}
	c.m[key] = cachedIdentity{id: id, at: now}
	c.mu.Unlock()
	return id, nil
}
