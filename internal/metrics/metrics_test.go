package metrics

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestLabelsAreBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, Options{AppIDs: []string{"wxapp"}, Handlers: []string{"log"}, Version: "v1", Commit: "abc"})
	m.ObserveRequest("wxapp", "/sns/jscode2session", "40029", time.Millisecond)
	m.ObserveRequest("wxapp", "/sns/jscode2session", "777777", time.Millisecond)
	m.ObserveRequest("wxapp", "/evil/path?openid=o-123", "0", time.Millisecond)
	m.ObserveTokenFetch("wx-unknown", "stable", "cold")
	m.ObserveTokenFetch("wxapp", "weird", "because")
	m.Login("wx-unknown", LoginCreated)
	m.PushHandled("my-handler-13800138000", HandledOK)
	m.OutboxAttempt("sms", "123456789")
	m.ObserveHTTP("", 999, time.Millisecond)

	for _, tc := range []struct {
		c    prometheus.Collector
		want string
	}{
		{m.wechatCalls.WithLabelValues("/sns/jscode2session", "40029"), "known errcode kept"},
		{m.wechatCalls.WithLabelValues("/sns/jscode2session", Other), "unknown errcode folded"},
		{m.wechatCalls.WithLabelValues(Other, "0"), "unknown path folded"},
		{m.tokenFetches.WithLabelValues(Other, "stable", "cold"), "unknown appid folded"},
		{m.tokenFetches.WithLabelValues("wxapp", Other, Other), "unknown mode and reason folded"},
		{m.logins.WithLabelValues(Other, LoginCreated), "unknown app's login"},
		{m.pushHandled.WithLabelValues(Other, HandledOK), "unknown handler folded"},
		{m.outboxTries.WithLabelValues(Other, Other), "unknown kind and code folded"},
		{m.httpRequests.WithLabelValues("", Other), "impossible status folded"},
	} {
		if got := testutil.ToFloat64(tc.c); got != 1 {
			t.Errorf("%s: %v, want 1", tc.want, got)
		}
	}
	n, err := testutil.GatherAndCount(reg, "miniback_wechat_requests_total")
	if err != nil || n != 3 {
		t.Errorf("wechat series = %d (%v), want 3", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP miniback_build_info Always 1; the labels name the running build.
# TYPE miniback_build_info gauge
`+`miniback_build_info{commit="abc",go_version="`+runtime.Version()+`",version="v1"} 1
`), "miniback_build_info"); err != nil {
		t.Error(err)
	}
}

func TestZeroSeriesExistFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, Options{AppIDs: []string{"a", "b"}, Handlers: []string{"log", "log", "webhook"}, Limits: []string{"login_per_ip"}})
	for name, want := range map[string]int{
		"miniback_logins_total":          2 * 4,
		"miniback_push_received_total":   2 * 6,
		"miniback_outbox_messages_total": 2 * 3,
		"miniback_push_handled_total":    2 * 3, // a handler named twice is one
		"miniback_rate_limited_total":    1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series (%v), want %d", name, n, err, want)
		}
	}
}
