package pay

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/wechatpay"
)

// App is one mini program's merchant.
type App struct {
	AppID         string
	MchID         string
	NotifyURL     string
	WebhookURL    string // "" : no business events
	WebhookSecret string
	Client        *wechatpay.Client
	// CertMode: answers are verified with platform certificates, which
	// Run downloads at start and every CertRefresh.
	CertMode bool
}

// CertRefresh is how often platform certificates are downloaded again:
// under WeChat Pay's advice of less than 12 hours.
const CertRefresh = 6 * time.Hour

// Service is the pay flow. Set the fields, then use it; it is safe for
// concurrent use. Run drives reconciliation and event delivery.
type Service struct {
	Store  miniback.PayStore
	Users  miniback.UserStore
	State  miniback.StateStore
	Apps   map[string]*App
	Logger *slog.Logger
	Now    func() time.Time
	// Notifications counts notifications by result (ok,
	// bad_signature, bad_body, mismatch, unknown, error); nil: not counted.
	Notifications *prometheus.CounterVec
	// Webhook posts business events; default a client with a 10 s timeout.
	// Its redirects are never followed, whatever its CheckRedirect says.
	Webhook *http.Client
	// Queue carries business events to the webhook: Run publishes pending
	// events (the database keeps them until delivered) and consumes them,
	// with the queue's redelivery and backoff. nil delivers from Run's
	// loop directly.
	Queue *queue.Queue
	// Tick is how often Run looks for due work; default 5 s.
	Tick time.Duration
	// Instance names this process in the reconciliation lease.
	Instance string

	mu        sync.Mutex
	published map[string]time.Time // event id → when handed to the queue
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// app returns the merchant of appid, or not_found when the app has no pay.
func (s *Service) app(appid string) (*App, error) {
	if a, ok := s.Apps[appid]; ok {
		return a, nil
	}
	return nil, miniback.Errorf(miniback.ECodeNotFound, "WeChat Pay is not configured for this app")
}

// wechatPayError maps a failure of a WeChat Pay call to SPEC's error JSON
// with wechat_pay_code set.
func wechatPayError(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := wechatpay.AsError(err); ok {
		return &miniback.Error{Code: codeOf(e), Message: "WeChat Pay answered " + e.Code + ": " + e.Message, WeChatPayCode: e.Code, Err: err}
	}
	var ne net.Error
	var open *gateway.OpenError
	switch {
	case errors.As(err, &open):
		return &miniback.Error{Code: miniback.ECodeWeChatUnavailable, RetryAfter: open.RetryAfter, Err: err,
			Message: "WeChat Pay is failing; miniback stopped calling it for a while (its circuit breaker is open)"}
	case errors.Is(err, wechatpay.ErrSignature):
		return miniback.WrapError(miniback.ECodeWeChatConfig, "WeChat Pay's answer failed its signature check", err)
	case errors.Is(err, context.DeadlineExceeded):
		return miniback.WrapError(miniback.ECodeWeChatTimeout, "WeChat Pay did not answer in time", err)
	case errors.As(err, &ne):
		return miniback.WrapError(miniback.ECodeWeChatUnavailable, "WeChat Pay is unreachable", err)
	}
	return err
}

func codeOf(e *wechatpay.Error) string {
	switch e.Code {
	case wechatpay.CodeSystemError, wechatpay.CodeBankError, "SYSTEMERROR", "BANKERROR":
		return miniback.ECodeWeChatBusy
	case wechatpay.CodeFrequencyLimited, wechatpay.CodeRateLimitExceeded:
		return miniback.ECodeWeChatRateLimited
	case wechatpay.CodeOrderPaid:
		return miniback.ECodeOrderPaid
	case wechatpay.CodeOrderClosed:
		return miniback.ECodeOrderClosed
	case wechatpay.CodeNotEnough, "NOTENOUGH":
		return miniback.ECodeInsufficientFunds
	case wechatpay.CodeSignError, wechatpay.CodeAppIDMchIDNotMatch, wechatpay.CodeMchNotExists, wechatpay.CodeNoAuth:
		return miniback.ECodeWeChatConfig
	case wechatpay.CodeParamError, wechatpay.CodeInvalidRequest, wechatpay.CodeOutTradeNoUsed:
		return miniback.ECodeWeChatRejected
	}
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return miniback.ECodeWeChatRateLimited
	case e.StatusCode >= 500:
		return miniback.ECodeWeChatUnavailable
	}
	return miniback.ECodeWeChatRejected
}

func (s *Service) count(result string) {
	if s.Notifications != nil {
		s.Notifications.WithLabelValues(result).Inc()
	}
}
