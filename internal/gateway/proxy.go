package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback"
)

// Identity is who the API layer found the caller to be. UserID 0 is an
// anonymous caller.
type Identity struct {
	AppID   string
	UserID  int64
	OpenID  string
	UnionID string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id for the route's upstream headers.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

func identityFrom(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// ServeHTTP forwards r to one of the route's upstreams. The caller has
// authenticated r as the route's Auth requires and put the Identity in
// its context. A body over MaxBody is refused with 413 before any byte
// reaches an upstream: a declared length is checked at once, and a body of
// unknown length is read (at most MaxBody bytes) before it is forwarded.
// Bodies of idempotent requests are kept in memory when the route retries.
func (rt *Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := rt.prepareBody(r); err != nil {
		rt.g.cfg.WriteError(w, r, err)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		// An upgraded connection (WebSocket) lives as long as its two ends
		// want: the server's read and write timeouts must not cut it.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
	}
	rt.proxy.ServeHTTP(w, r)
}

var errTooLarge = miniback.Errorf(miniback.ECodeTooLarge, "the request body is larger than this route allows")

func (rt *Route) prepareBody(r *http.Request) error {
	limit := rt.cfg.MaxBody
	if r.ContentLength > limit {
		return errTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	if r.ContentLength > 0 && !(rt.cfg.Retries > 0 && idempotent(r.Method)) {
		r.Body = http.MaxBytesReader(nil, r.Body, limit)
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return miniback.WrapError(miniback.ECodeInvalidRequest, "the request body could not be read", err)
	}
	if int64(len(buf)) > limit {
		return errTooLarge
	}
	r.Body.Close()
	r.ContentLength = int64(len(buf))
	r.TransferEncoding = nil
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return nil
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// rewrite builds the outbound request: path (prefix stripped when asked),
// no X-Miniback-* header from the client, the identity headers, the
// request id and X-Forwarded-*. The proxy has already removed hop-by-hop
// headers and the client's X-Forwarded-*; Authorization is kept.
func (rt *Route) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Scheme, out.URL.Host = "http", "upstream.invalid" // the transport picks the upstream
	out.URL.Path, out.URL.RawPath = rt.outPath(in.URL)
	out.Host = ""
	for k := range out.Header {
		if strings.HasPrefix(k, "X-Miniback-") {
			delete(out.Header, k)
		}
	}
	id := identityFrom(in.Context())
	if id.AppID != "" {
		out.Header.Set("X-Miniback-Appid", id.AppID)
	}
	if id.UserID != 0 {
		out.Header.Set("X-Miniback-User-Id", strconv.FormatInt(id.UserID, 10))
		out.Header.Set("X-Miniback-Openid", id.OpenID)
		if id.UnionID != "" {
			out.Header.Set("X-Miniback-Unionid", id.UnionID)
		}
	}
	if rid := miniback.RequestIDFrom(in.Context()); rid != "" {
		out.Header.Set("X-Request-Id", rid)
	}
	rt.forwarded(in, out)
}

// forwarded sets X-Forwarded-For, -Proto and -Host. A trusted proxy's
// values are kept and extended; anyone else's were dropped by the proxy.
func (rt *Route) forwarded(in, out *http.Request) {
	peerAddr := peer(in)
	proto, host := "http", in.Host
	if in.TLS != nil {
		proto = "https"
	}
	xff := peerAddr.String()
	if rt.g.cfg.Proxies.trusts(peerAddr) {
		if prior := strings.Join(forwardedFor(in.Header), ", "); prior != "" {
			xff = prior + ", " + xff
		}
		if p := in.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			proto = p
		}
		if h := in.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	out.Header.Set("X-Forwarded-For", xff)
	out.Header.Set("X-Forwarded-Proto", proto)
	out.Header.Set("X-Forwarded-Host", host)
}

// outPath is the path the upstream sees, before its own base path.
func (rt *Route) outPath(u *url.URL) (string, string) {
	if !rt.cfg.StripPrefix {
		return u.Path, u.RawPath
	}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	rest := "/"
	if len(segs) > len(rt.segs) {
		rest = "/" + strings.Join(segs[len(rt.segs):], "/")
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return rest, ""
	}
	if p == rest {
		return p, ""
	}
	return p, rest
}

// RoundTrip sends req to a healthy upstream whose breaker is not open,
// trying others (round robin) for idempotent methods when an attempt gets
// no answer. Upstream answers, 5xx included, are returned as they are.
func (rt *Route) RoundTrip(req *http.Request) (*http.Response, error) {
	attempts := 1
	if idempotent(req.Method) {
		attempts += rt.cfg.Retries
	}
	tried := make([]bool, len(rt.ups))
	var lastErr error
	for i := range attempts {
		up, done, err := rt.pick(tried)
		if err != nil {
			if lastErr == nil {
				lastErr = err
			}
			break
		}
		if i > 0 && req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				done(false)
				return nil, err
			}
		}
		resp, err := rt.attempt(req, up, done)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if req.Context().Err() != nil || (i == 0 && req.Body != nil && req.GetBody == nil) {
			break // the client left, or the body is spent
		}
	}
	return nil, lastErr
}

// errNoUpstream: every upstream failed its health check.
var errNoUpstream = errors.New("gateway: no healthy upstream")

// pick chooses the next healthy upstream, not tried yet when possible, whose
// breaker allows a call.
func (rt *Route) pick(tried []bool) (*upstream, func(bool), error) {
	n := uint64(len(rt.ups))
	start := rt.next.Add(1) - 1
	var open *OpenError
	for pass := range 2 {
		for i := range n {
			k := (start + i) % n
			up := rt.ups[k]
			if !up.healthy.Load() || (pass == 0 && tried[k]) {
				continue
			}
			done, err := up.breaker.Allow()
			if err != nil {
				var oe *OpenError
				if errors.As(err, &oe) && (open == nil || oe.RetryAfter < open.RetryAfter) {
					open = oe
				}
				continue
			}
			tried[k] = true
			return up, done, nil
		}
	}
	if open != nil {
		return nil, nil, open
	}
	return nil, nil, errNoUpstream
}

// attempt makes one call to up within the route's timeout. For an upgrade
// (WebSocket) the timeout covers only the handshake.
func (rt *Route) attempt(req *http.Request, up *upstream, done func(failed bool)) (*http.Response, error) {
	upgrade := req.Header.Get("Upgrade") != ""
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(rt.cfg.Timeout, cancel)
	timedOut := func() bool { return !timer.Stop() && req.Context().Err() == nil }
	out := req.WithContext(ctx)
	u := *out.URL
	u.Scheme, u.Host = up.url.Scheme, up.url.Host
	if base := strings.TrimRight(up.url.Path, "/"); base != "" {
		u.Path = base + u.Path
		if u.RawPath != "" {
			u.RawPath = strings.TrimRight(up.url.EscapedPath(), "/") + u.RawPath
		}
	}
	out.URL = &u
	resp, err := rt.through.RoundTrip(out)
	if err != nil {
		t := timedOut()
		cancel()
		done(req.Context().Err() == nil)
		if t {
			return nil, &timeoutError{err}
		}
		return nil, err
	}
	done(resp.StatusCode >= 500)
	if upgrade && resp.StatusCode == http.StatusSwitchingProtocols {
		timer.Stop()
		return resp, nil
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel, timer: timer}
	return resp, nil
}

// timeoutError is an attempt that ran out of the route's timeout.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return "gateway: upstream timed out: " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }

// cancelBody ends the attempt's context once the answer was read.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	timer  *time.Timer
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.timer.Stop()
	b.cancel()
	return err
}

// proxyError answers a request no upstream answered.
func (rt *Route) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *OpenError
	var te *timeoutError
	switch {
	case r.Context().Err() != nil:
		// The client left; the writer reports the cancellation.
	case errors.As(err, &oe):
		err = &miniback.Error{Code: miniback.ECodeUpstreamUnavailable, Message: "the upstream service is failing; try again later",
			RetryAfter: oe.RetryAfter, Err: err}
	case errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded):
		err = miniback.WrapError(miniback.ECodeUpstreamTimeout, "the upstream service did not answer in time", err)
	default:
		err = miniback.WrapError(miniback.ECodeUpstreamUnavailable, "the upstream service could not be reached", err)
	}
	rt.g.cfg.WriteError(w, r, err)
}
