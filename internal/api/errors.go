package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/miniback/miniback"
)

// ECodeMethodNotAllowed answers a known route called with another method.
const ECodeMethodNotAllowed = "method_not_allowed"

// statusOf is the one table from error code to HTTP status (SPEC §3).
var statusOf = map[string]int{
	miniback.ECodeInvalidRequest:    http.StatusBadRequest,
	miniback.ECodeInvalidCode:       http.StatusBadRequest,
	miniback.ECodeInvalidSignature:  http.StatusBadRequest,
	miniback.ECodeDecryptFailed:     http.StatusBadRequest,
	miniback.ECodeUnauthorized:      http.StatusUnauthorized,
	miniback.ECodeInvalidRefresh:    http.StatusUnauthorized,
	miniback.ECodeForbidden:         http.StatusForbidden,
	miniback.ECodeNotFound:          http.StatusNotFound,
	miniback.ECodeAppNotFound:       http.StatusNotFound,
	ECodeMethodNotAllowed:           http.StatusMethodNotAllowed,
	miniback.ECodeConflict:          http.StatusConflict,
	miniback.ECodeTooLarge:          http.StatusRequestEntityTooLarge,
	miniback.ECodeUnsupportedMedia:  http.StatusUnsupportedMediaType,
	miniback.ECodeWeChatRejected:    http.StatusUnprocessableEntity,
	miniback.ECodeRateLimited:       http.StatusTooManyRequests,
	miniback.ECodeWeChatRateLimited: http.StatusTooManyRequests,
	miniback.ECodeInternal:          http.StatusInternalServerError,
	miniback.ECodeWeChatUnavailable: http.StatusBadGateway,
	miniback.ECodeWeChatConfig:      http.StatusBadGateway,
	miniback.ECodeWeChatBusy:        http.StatusServiceUnavailable,
	miniback.ECodeUnavailable:       http.StatusServiceUnavailable,
	miniback.ECodeWeChatTimeout:     http.StatusGatewayTimeout,
	miniback.ECodeOrderPaid:         http.StatusConflict,
	miniback.ECodeOrderClosed:       http.StatusConflict,
	miniback.ECodeOrderExpired:      http.StatusConflict,
	miniback.ECodeOrderNotPaid:      http.StatusConflict,
	miniback.ECodeRefundExceeds:     http.StatusConflict,
	miniback.ECodeInsufficientFunds: http.StatusConflict,

	miniback.ECodeUpstreamUnavailable: http.StatusBadGateway,
	miniback.ECodeUpstreamTimeout:     http.StatusGatewayTimeout,
}

// statusWhileOpen is the status of a code whose Error has RetryAfter set
// because a circuit breaker is open: the service is known to be down, so
// the answer is 503 rather than the 502 of a failed call.
var statusWhileOpen = map[string]int{
	miniback.ECodeWeChatUnavailable:   http.StatusServiceUnavailable,
	miniback.ECodeUpstreamUnavailable: http.StatusServiceUnavailable,
}

// StatusOf returns the HTTP status for an error code; unknown codes are 500.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is SPEC §3's error JSON.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	WeChatErrCode int    `json:"wechat_errcode,omitempty"`
	WeChatPayCode string `json:"wechat_pay_code,omitempty"`
}

// payNotifyFailure is how a WeChat Pay notification is refused: WeChat Pay
// reads the status and retries; the body is the shape its documentation
// asks for.
type payNotifyFailure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers err in SPEC's JSON shape. Errors that are not an
// *miniback.Error become 500 "internal" with a generic message; those, and
// every 5xx, are logged here, once, with the request's identity.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *miniback.Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			e = miniback.WrapError(miniback.ECodeInvalidRequest, "the request was cancelled", err)
		case s.Unavailable != nil && s.Unavailable(err):
			e = miniback.WrapError(miniback.ECodeUnavailable, "a service this request needs is unavailable; try again shortly", err)
		default:
			e = miniback.WrapError(miniback.ECodeInternal, "internal error", err)
		}
	}
	status := StatusOf(e.Code)
	if e.RetryAfter > 0 {
		if st, ok := statusWhileOpen[e.Code]; ok {
			status = st
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	// A client that gave up made whatever failed after it left fail (a
	// canceled query, a WeChat call cut short): the request line records
	// 499 and nothing here is the server's or the client's error. A fast
	// failure of an open breaker (RetryAfter) was logged when it opened.
	if status >= 500 && e.RetryAfter == 0 && !clientGone(r) {
		s.Logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("route", r.Pattern),
			slog.String("appid", r.PathValue("appid")),
			slog.String("request_id", miniback.RequestIDFrom(r.Context())),
			slog.String("code", e.Code), slog.Int("wechat_errcode", e.WeChatErrCode),
			slog.String("error", err.Error()))
	}
	if strings.HasPrefix(r.Pattern, "POST /wx/pay/notify/") {
		writeJSON(w, status, payNotifyFailure{Code: "FAIL", Message: e.Message})
		return
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="miniback"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: e.Code, Message: e.Message, WeChatErrCode: e.WeChatErrCode, WeChatPayCode: e.WeChatPayCode}})
}

// writeJSON answers v with the status. HTML escaping is off so that URLs in
// answers read as they are.
func writeJSON(w http.ResponseWriter, status int, v any) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

// encodeJSON renders v exactly as writeJSON writes it.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Bytes()
}

// writeJSONBytes writes a body encodeJSON rendered earlier.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	setJSONHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing left to tell it
}

func setJSONHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}
