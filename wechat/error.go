package wechat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
)

// Error is a WeChat answer whose errcode is not 0. Msg is WeChat's errmsg,
// usually ending in a request id; compare Code, never Msg.
type Error struct {
	// Code is WeChat's errcode.
	Code int
	// Msg is WeChat's errmsg.
	Msg string
	// API is the path that answered, e.g. "/sns/jscode2session".
	API string
}

// Error returns "wechat: {api}: errcode {code}: {msg}".
func (e *Error) Error() string {
	return "wechat: " + e.API + ": errcode " + strconv.Itoa(e.Code) + ": " + e.Msg
}

// IsTokenInvalid reports whether the error means the access token used was
// invalid, expired or missing (40001, 40014, 41001, 42001) and a fresh token
// may succeed. It is false for errors from the token endpoints themselves,
// where 40001 means a wrong AppSecret.
func (e *Error) IsTokenInvalid() bool {
	if e.API == pathToken || e.API == pathStableToken {
		return false
	}
	switch e.Code {
	case 40001, 40014, 41001, 42001:
		return true
	}
	return false
}

// IsRetryable reports whether the same call may succeed later: -1 (system
// busy), 45009 (quota reached) and 45011 (minute quota reached).
func (e *Error) IsRetryable() bool {
	switch e.Code {
	case -1, 45009, 45011:
		return true
	}
	return false
}

// HTTPError is an answer with an HTTP status other than 200.
type HTTPError struct {
	// StatusCode is the HTTP status received.
	StatusCode int
	// API is the path that answered.
	API string
}

// Error returns "wechat: {api}: HTTP {status}".
func (e *HTTPError) Error() string {
	return "wechat: " + e.API + ": HTTP " + strconv.Itoa(e.StatusCode)
}

// transportError is a request that got no HTTP answer. It never carries the
// request URL, whose query may hold the secret or an access token.
type transportError struct {
	api string
	err error
}

func (e *transportError) Error() string { return "wechat: " + e.api + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// IsRetryable reports whether err may pass if the call is made again later:
// an [*Error] with errcode -1, 45009 or 45011, an [*HTTPError] with status
// 429 or 5xx, a timeout, or a failed or dropped connection. It is false for
// context.Canceled, which means the caller gave up, and for nil.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var we *Error
	if errors.As(err, &we) {
		return we.IsRetryable()
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode == 429 || he.StatusCode >= 500
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// errUnexpected reports a success answer that could not be understood.
func errUnexpected(api, what string) error {
	return fmt.Errorf("wechat: %s: unexpected answer: %s", api, what)
}
