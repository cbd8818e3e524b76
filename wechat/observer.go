package wechat

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"
)

// Observer is told about every HTTP call the client makes and every access
// token it fetches, for metrics. Its methods are called on the caller's
// goroutine, so they must be fast and safe for concurrent use. Nothing
// secret is passed to them: no token, secret, openid or request body.
type Observer interface {
	// ObserveRequest reports one HTTP call to path (a constant such as
	// "/sns/jscode2session", never a URL with its query) that took d and
	// ended as [Outcome] describes.
	ObserveRequest(appID, path, outcome string, d time.Duration)
	// ObserveTokenFetch reports one access-token request sent to WeChat
	// (not a cache hit), with mode "stable" or "classic" and reason one of
	// the TokenReason constants.
	ObserveTokenFetch(appID, mode, reason string)
}

// Reasons for a token fetch given to [Observer.ObserveTokenFetch].
const (
	// TokenReasonCold: this client had never seen a token (start-up).
	TokenReasonCold = "cold"
	// TokenReasonExpired: the cached token had expired (or was dropped).
	TokenReasonExpired = "expired"
	// TokenReasonInvalid: WeChat rejected the cached token (40001, 42001, …).
	TokenReasonInvalid = "invalid"
	// TokenReasonForced: a stable token kept failing, force_refresh was used.
	TokenReasonForced = "forced"
)

// WithObserver sets the observer of requests and token fetches; nil (the
// default) observes nothing.
func WithObserver(o Observer) Option { return func(c *Client) { c.obs = o } }

// Outcome names the result of one call in a few words, for metrics: "0"
// for success, WeChat's errcode in decimal for an [*Error], "http_5xx" or
// "http_4xx" for an [*HTTPError], "timeout" when the call's deadline
// passed, "canceled" when the caller gave up, "circuit_open" when the HTTP
// client's transport refused to send because a circuit breaker is open (an
// error with a CircuitOpen method reporting true), "network" when no answer
// came otherwise, and "invalid_answer" for an answer that could not be
// understood.
func Outcome(err error) string {
	if err == nil {
		return "0"
	}
	var we *Error
	var he *HTTPError
	var ne net.Error
	var te *transportError
	var co circuitOpen
	switch {
	case errors.As(err, &we):
		return strconv.Itoa(we.Code)
	case errors.As(err, &he) && he.StatusCode >= 500:
		return "http_5xx"
	case errors.As(err, &he):
		return "http_4xx"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &co) && co.CircuitOpen():
		return "circuit_open"
	case errors.As(err, &te):
		return "network"
	}
	return "invalid_answer"
}

// circuitOpen is the error of a transport that did not send a request
// because the circuit breaker guarding WeChat is open: no call was made,
// so it is not counted as a network failure.
type circuitOpen interface{ CircuitOpen() bool }

// observe reports one call to the observer, if any.
func (c *Client) observe(path string, start time.Time, err error) {
	if c.obs != nil {
		c.obs.ObserveRequest(c.appID, path, Outcome(err), time.Since(start))
	}
}

// tokenReason tells why a token is being fetched.
func (c *Client) tokenReason(stale string, force bool) string {
	switch {
	case force:
		return TokenReasonForced
	case stale != "":
		return TokenReasonInvalid
	case c.hadToken.Load():
		return TokenReasonExpired
	}
	return TokenReasonCold
}
