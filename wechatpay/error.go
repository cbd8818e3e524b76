package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
)

// WeChat Pay error codes this package's callers branch on. Compare Code,
// never Message: one code comes with many messages.
const (
	CodeSystemError        = "SYSTEM_ERROR"
	CodeBankError          = "BANK_ERROR"
	CodeFrequencyLimited   = "FREQUENCY_LIMITED"
	CodeRateLimitExceeded  = "RATELIMIT_EXCEEDED"
	CodeOrderPaid          = "ORDERPAID"
	CodeOrderClosed        = "ORDER_CLOSED"
	CodeNotEnough          = "NOT_ENOUGH"
	CodeSignError          = "SIGN_ERROR"
	CodeAppIDMchIDNotMatch = "APPID_MCHID_NOT_MATCH"
	CodeMchNotExists       = "MCH_NOT_EXISTS"
	CodeNoAuth             = "NO_AUTH"
	CodeParamError         = "PARAM_ERROR"
	CodeInvalidRequest     = "INVALID_REQUEST"
	CodeOutTradeNoUsed     = "OUT_TRADE_NO_USED"
	CodeOrderNotExist      = "ORDER_NOT_EXIST"
	CodeResourceNotExists  = "RESOURCE_NOT_EXISTS"
)

// Error is a WeChat Pay answer with a non-2xx status.
type Error struct {
	StatusCode int             // HTTP status
	Code       string          // e.g. "SYSTEM_ERROR"
	Message    string          // WeChat Pay's text
	Detail     json.RawMessage // optional, layout varies
	RequestID  string          // the Request-ID header, for WeChat Pay support
	API        string          // method and path, e.g. "POST /v3/pay/transactions/jsapi"
	Unverified bool            // the answer's signature did not verify
}

// Error returns "wechatpay: {api}: {status} {code}: {message}".
func (e *Error) Error() string {
	return fmt.Sprintf("wechatpay: %s: %d %s: %s", e.API, e.StatusCode, e.Code, e.Message)
}

// IsRetryable reports whether the same request, with the same parameters,
// may succeed later: SYSTEM_ERROR, BANK_ERROR and other 5xx answers.
// (429 is retryable too, but only after backing off: see IsRateLimited.)
func (e *Error) IsRetryable() bool {
	switch e.Code {
	case CodeSystemError, CodeBankError, "SYSTEMERROR", "BANKERROR":
		return true
	}
	return e.StatusCode >= 500
}

// IsRateLimited reports whether WeChat Pay asked to slow down (429).
func (e *Error) IsRateLimited() bool {
	return e.StatusCode == 429 || e.Code == CodeFrequencyLimited || e.Code == CodeRateLimitExceeded
}

// IsNotFound reports whether the order or refund does not exist.
func (e *Error) IsNotFound() bool {
	return e.Code == CodeOrderNotExist || e.Code == CodeResourceNotExists || e.Code == "ORDERNOTEXIST"
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsTransient reports whether err is a failure that retrying the same
// request may cure: a retryable *Error, a timeout or a network error. It
// is false for verification failures: an answer that fails its signature
// check is never retried into a success.
func IsTransient(err error) bool {
	if e, ok := AsError(err); ok {
		return e.IsRetryable()
	}
	if errors.Is(err, ErrSignature) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne)
}
