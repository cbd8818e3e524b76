package miniback

import (
	"errors"
	"fmt"
	"time"
)

// Error codes are the stable snake_case words of SPEC §3. The HTTP status of
// each is decided in one table, internal/api/errors.go.
const (
	ECodeInvalidRequest    = "invalid_request" // malformed body or parameters
	ECodeUnsupportedMedia  = "unsupported_media_type"
	ECodeTooLarge          = "payload_too_large"
	ECodeNotFound          = "not_found"
	ECodeAppNotFound       = "app_not_found"
	ECodeUnauthorized      = "unauthorized" // missing, garbled, expired or revoked token
	ECodeForbidden         = "forbidden"    // valid credentials that may not do this
	ECodeConflict          = "conflict"
	ECodeInvalidCode       = "invalid_code" // wx.login / phone code invalid or used
	ECodeInvalidRefresh    = "invalid_refresh_token"
	ECodeInvalidSignature  = "invalid_signature"
	ECodeDecryptFailed     = "decrypt_failed"
	ECodeRateLimited       = "rate_limited"
	ECodeWeChatBusy        = "wechat_busy"         // WeChat -1
	ECodeWeChatRateLimited = "wechat_rate_limited" // 45009, 45011
	ECodeWeChatRejected    = "wechat_rejected"     // any other WeChat error a caller caused
	ECodeWeChatUnavailable = "wechat_unavailable"  // transport failure, 5xx
	ECodeWeChatTimeout     = "wechat_timeout"
	ECodeWeChatConfig      = "wechat_misconfigured" // bad secret/appid/IP whitelist: the operator must act
	ECodeUnavailable       = "unavailable"          // a dependency of ours is down
	// ECodeUpstreamUnavailable: a gateway upstream unreachable, or its breaker open.
	ECodeUpstreamUnavailable = "upstream_unavailable"
	// ECodeUpstreamTimeout: a gateway upstream did not answer within the route's timeout.
	ECodeUpstreamTimeout = "upstream_timeout"
	ECodeInternal        = "internal"

	// WeChat Pay (SPEC §13).
	ECodeOrderPaid         = "order_paid"
	ECodeOrderClosed       = "order_closed"
	ECodeOrderExpired      = "order_expired"
	ECodeOrderNotPaid      = "order_not_paid"
	ECodeRefundExceeds     = "refund_exceeds_total"
	ECodeInsufficientFunds = "insufficient_funds"
)

// Error is the one error type of miniback. Code is one of the ECode
// constants; Message is safe to show to the caller; WeChatErrCode is set when
// WeChat caused the error; Err is the wrapped cause, for logs only.
// RetryAfter, when set, is sent as Retry-After: the call may pass after it
// (a rate limit, or a circuit breaker that is open, which makes
// wechat_unavailable and upstream_unavailable answer 503).
type Error struct {
	Code          string
	Message       string
	WeChatErrCode int
	RetryAfter    time.Duration
	WeChatPayCode string // WeChat Pay's code, e.g. "SYSTEM_ERROR"
	Err           error
}

// Error implements the error interface. It never includes secrets because
// no constructor in miniback puts one into Message or Err.
func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.WeChatErrCode != 0 {
		s += fmt.Sprintf(" (wechat errcode %d)", e.WeChatErrCode)
	}
	if e.WeChatPayCode != "" {
		s += " (wechat pay " + e.WeChatPayCode + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the given code and message that wraps err.
func WrapError(code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, ECodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ECodeInternal
}

// IsNotFound reports whether err carries ECodeNotFound.
func IsNotFound(err error) bool { return ErrorCode(err) == ECodeNotFound }
