package metrics

import "time"

// wechatPaths are the API paths the wechat client calls; any other path is
// counted as "other". A new call in package wechat adds its path here.
var wechatPaths = []string{
	"/cgi-bin/token", "/cgi-bin/stable_token", "/sns/jscode2session",
	"/wxa/business/getuserphonenumber", "/wxa/checksession",
	"/cgi-bin/message/custom/send", "/cgi-bin/message/subscribe/send",
	"/cgi-bin/media/upload", "/cgi-bin/media/get", "/wxa/getwxacodeunlimit",
	"/wxa/generate_urllink", "/wxa/generatescheme", "/wxa/genwxashortlink",
	"/wxa/msg_sec_check", "/wxa/media_check_async",
	"/datacube/getweanalysisappiddailysummarytrend", "/datacube/getweanalysisappiddailyvisittrend",
	"/datacube/getweanalysisappidweeklyvisittrend", "/datacube/getweanalysisappidmonthlyvisittrend",
	"/datacube/getweanalysisappiddailyretaininfo", "/datacube/getweanalysisappidweeklyretaininfo",
	"/datacube/getweanalysisappidmonthlyretaininfo", "/datacube/getweanalysisappidvisitpage",
	"/datacube/getweanalysisappiduserportrait", "/datacube/getweanalysisappidvisitdistribution",
}

// knownOutcomes are the WeChat outcomes kept as label values: success, the
// errcodes SPEC names, and the client's transport outcomes. Any other
// errcode is "other", so a WeChat answering random codes cannot grow the
// series without bound.
var knownOutcomes = set([]string{
	"0", "-1", "http_5xx", "http_4xx", "timeout", "network", "canceled", "circuit_open", "invalid_answer",
	"40001", "40003", "40007", "40013", "40014", "40029", "40037", "40125", "40163", "40164",
	"40226", "40243", "41001", "41002", "41030", "42001", "43101", "45009", "45011", "47003",
	"48001", "61024", "87014",
})

// outcome bounds a wechat.Outcome value.
func outcome(o string) string {
	if knownOutcomes[o] {
		return o
	}
	return Other
}

// ObserveRequest implements wechat.Observer.
func (m *Metrics) ObserveRequest(appID, path, outcomeName string, d time.Duration) {
	if !m.wechatPathSet[path] {
		path = Other
	}
	m.wechatCalls.WithLabelValues(path, outcome(outcomeName)).Inc()
	m.wechatTime.WithLabelValues(path).Observe(d.Seconds())
}

// ObserveTokenFetch implements wechat.Observer.
func (m *Metrics) ObserveTokenFetch(appID, mode, reason string) {
	switch reason {
	case "cold", "expired", "invalid", "forced":
	default:
		reason = Other
	}
	if mode != "stable" && mode != "classic" {
		mode = Other
	}
	m.tokenFetches.WithLabelValues(m.app(appID), mode, reason).Inc()
}

// Login results.
const (
	LoginCreated     = "created"
	LoginExisting    = "existing"
	LoginInvalidCode = "invalid_code"
	LoginError       = "error"
)

// Login counts one login attempt of appid with a Login… result.
func (m *Metrics) Login(appid, result string) {
	m.logins.WithLabelValues(m.app(appid), result).Inc()
}

// Push receipt results.
const (
	PushStored           = "stored"
	PushDuplicate        = "duplicate"
	PushRefusedSignature = "refused_signature"
	PushRefusedStale     = "refused_stale"
	PushRefusedBody      = "refused_body"
	PushUnavailable      = "unavailable"
)

var pushResults = []string{PushStored, PushDuplicate, PushRefusedSignature, PushRefusedStale, PushRefusedBody, PushUnavailable}

// PushReceived counts one push of appid with a Push… result.
func (m *Metrics) PushReceived(appid, result string) {
	m.pushReceived.WithLabelValues(m.app(appid), result).Inc()
}

// Push handling results.
const (
	HandledOK      = "ok"
	HandledFailed  = "failed"
	HandledRetried = "retried"
)

// PushHandled counts one run of handler with a Handled… result.
func (m *Metrics) PushHandled(handler, result string) {
	if !m.handlers[handler] {
		handler = Other
	}
	m.pushHandled.WithLabelValues(handler, result).Inc()
}

// PushLag records the time from a push's receipt to the end of its
// handling.
func (m *Metrics) PushLag(d time.Duration) { m.pushLag.Observe(d.Seconds()) }

// Outbox statuses.
const (
	OutboxQueued = "queued"
	OutboxSent   = "sent"
	OutboxFailed = "failed"
)

// OutboxMessage counts one outbound message of kind reaching status.
func (m *Metrics) OutboxMessage(kind, status string) {
	m.outboxMsgs.WithLabelValues(kindLabel(kind), status).Inc()
}

// OutboxAttempt counts one send attempt of kind with its wechat.Outcome.
func (m *Metrics) OutboxAttempt(kind, outcomeName string) {
	m.outboxTries.WithLabelValues(kindLabel(kind), outcome(outcomeName)).Inc()
}

func kindLabel(kind string) string {
	if kind == "customer" || kind == "subscribe" {
		return kind
	}
	return Other
}

// Circuit breaker states for SetCircuitState.
const (
	CircuitClosed   = 0
	CircuitHalfOpen = 1
	CircuitOpen     = 2
)

// SetCircuitState records the state of the breaker guarding target (a
// fixed name chosen by the code, such as "wechat").
func (m *Metrics) SetCircuitState(target string, state int) {
	m.circuitState.WithLabelValues(target).Set(float64(state))
}

// RateLimited counts one request refused by limit (a fixed name chosen by
// the code or the configuration, never a client address).
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }
