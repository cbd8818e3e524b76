// Package metrics defines every Prometheus metric miniback exposes (SPEC
// §8.1) in one place, registered on a registry the caller passes in: no
// global registry, no init(). Label values are bounded: appids by the
// configured apps, WeChat paths by the client's constant paths, errcodes by
// a fixed list of the codes miniback knows, handlers by the configured
// router; anything else is folded into "other". Nothing a request carries
// (an openid, a phone number, a token, a raw path) ever becomes a label.
//
// A *Metrics is safe for concurrent use. Its methods are cheap: a map
// lookup and an atomic add.
package metrics

import (
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Other is the label value that stands for any value outside the bounded set.
const Other = "other"

// Options bound the label values and describe the build.
type Options struct {
	// AppIDs are the configured apps; other appids are counted as "other".
	AppIDs []string
	// Handlers are the push handler names the router can run.
	Handlers []string
	// Limits are the names of the rate limits in force (series of
	// miniback_rate_limited_total exist for them from the start).
	Limits []string
	// Version and Commit label miniback_build_info.
	Version, Commit string
}

// Metrics holds every metric. Create it with New.
type Metrics struct {
	apps     map[string]bool
	handlers map[string]bool

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	wechatCalls   *prometheus.CounterVec
	wechatTime    *prometheus.HistogramVec
	tokenFetches  *prometheus.CounterVec
	logins        *prometheus.CounterVec
	pushReceived  *prometheus.CounterVec
	pushHandled   *prometheus.CounterVec
	pushLag       prometheus.Histogram
	outboxMsgs    *prometheus.CounterVec
	outboxTries   *prometheus.CounterVec
	circuitState  *prometheus.GaugeVec
	rateLimited   *prometheus.CounterVec
	buildInfo     *prometheus.GaugeVec
	registerer    prometheus.Registerer
	wechatPathSet map[string]bool
}

// New creates the metrics and registers them on reg. It panics if one is
// already registered there (a programming error, as with MustRegister).
func New(reg prometheus.Registerer, o Options) *Metrics {
	m := &Metrics{
		apps:          set(o.AppIDs),
		handlers:      set(o.Handlers),
		registerer:    reg,
		wechatPathSet: set(wechatPaths),
	}
	m.newHTTP()
	m.newWeChat()
	m.newFlows()
	m.newGuards()
	m.buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "miniback_build_info", Help: "Always 1; the labels name the running build.",
	}, []string{"version", "commit", "go_version"})
	m.buildInfo.WithLabelValues(o.Version, o.Commit, runtime.Version()).Set(1)
	reg.MustRegister(m.httpRequests, m.httpDuration, m.wechatCalls, m.wechatTime, m.tokenFetches,
		m.logins, m.pushReceived, m.pushHandled, m.pushLag, m.outboxMsgs, m.outboxTries,
		m.circuitState, m.rateLimited, m.buildInfo)
	m.zero(o)
	return m
}

func set(list []string) map[string]bool {
	s := make(map[string]bool, len(list))
	for _, v := range list {
		s[v] = true
	}
	return s
}

// latencyBuckets suit HTTP handlers and WeChat calls: 5 ms to 10 s.
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func (m *Metrics) newHTTP() {
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_http_requests_total",
		Help: "HTTP requests by route pattern and status; 499 when the client gave up.",
	}, []string{"route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "miniback_http_request_duration_seconds", Help: "HTTP request duration by route pattern.",
		Buckets: latencyBuckets,
	}, []string{"route"})
}

func (m *Metrics) newWeChat() {
	m.wechatCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_wechat_requests_total",
		Help: "Calls to the WeChat API by path and outcome: 0, an errcode, http_5xx, http_4xx, timeout, network, canceled, invalid_answer or other.",
	}, []string{"path", "errcode"})
	m.wechatTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "miniback_wechat_request_duration_seconds", Help: "Duration of calls to the WeChat API by path.",
		Buckets: latencyBuckets,
	}, []string{"path"})
	m.tokenFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_wechat_token_fetches_total",
		Help: "Access-token requests sent to WeChat by appid, mode and reason (cold, expired, invalid, forced).",
	}, []string{"appid", "mode", "reason"})
}

func (m *Metrics) newFlows() {
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_logins_total", Help: "Logins by appid and result (created, existing, invalid_code, error).",
	}, []string{"appid", "result"})
	m.pushReceived = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_push_received_total",
		Help: "Message pushes received by appid and result (stored, duplicate, refused_signature, refused_stale, refused_body, unavailable).",
	}, []string{"appid", "result"})
	m.pushHandled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_push_handled_total", Help: "Push handler runs by handler and result (ok, failed, retried).",
	}, []string{"handler", "result"})
	m.pushLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "miniback_push_handling_lag_seconds", Help: "Time from a push's receipt to the end of its handling.",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900},
	})
	m.outboxMsgs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_outbox_messages_total", Help: "Outbound messages by kind and status reached (queued, sent, failed).",
	}, []string{"kind", "status"})
	m.outboxTries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_outbox_attempts_total", Help: "Send attempts of outbound messages by kind and WeChat outcome.",
	}, []string{"kind", "errcode"})
}

func (m *Metrics) newGuards() {
	m.circuitState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "miniback_circuit_state", Help: "Circuit breaker state by target: 0 closed, 1 half-open, 2 open.",
	}, []string{"target"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "miniback_rate_limited_total", Help: "Requests refused by a rate limit, by limit.",
	}, []string{"limit"})
}

// zero creates the series whose label values are known up front (logins
// and pushes per app, handler runs per handler, outbound messages per
// kind, refusals per rate limit in force), so that rate() and alerts see
// them from the first scrape.
func (m *Metrics) zero(o Options) {
	for _, app := range o.AppIDs {
		for _, r := range []string{LoginCreated, LoginExisting, LoginInvalidCode, LoginError} {
			m.logins.WithLabelValues(app, r)
		}
		for _, r := range pushResults {
			m.pushReceived.WithLabelValues(app, r)
		}
	}
	for _, h := range o.Handlers {
		for _, r := range []string{HandledOK, HandledFailed, HandledRetried} {
			m.pushHandled.WithLabelValues(h, r)
		}
	}
	for _, l := range o.Limits {
		m.rateLimited.WithLabelValues(l)
	}
	for _, kind := range []string{"customer", "subscribe"} {
		for _, s := range []string{OutboxQueued, OutboxSent, OutboxFailed} {
			m.outboxMsgs.WithLabelValues(kind, s)
		}
	}
}

// Registerer is where the metrics were registered; other components (the
// database pool, the queue) add their collectors there.
func (m *Metrics) Registerer() prometheus.Registerer { return m.registerer }

func (m *Metrics) app(appid string) string {
	if m.apps[appid] {
		return appid
	}
	return Other
}

// ObserveHTTP records one HTTP request. route is the mux pattern that
// matched (bounded by the registered routes), "" for none.
func (m *Metrics) ObserveHTTP(route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, statusText(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// statusText avoids an allocation for the common statuses.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 202:
		return "202"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 499:
		return "499"
	}
	if code < 100 || code > 599 {
		return Other
	}
	return strconv.Itoa(code)
}
