package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The cost the metrics add to one request: what the HTTP middleware
// records for every request, and what one WeChat call, login or push adds.
// See docs/benchmarks.md.

func benchMetrics() *Metrics {
	return New(prometheus.NewRegistry(), Options{AppIDs: []string{"wxa", "wxb"}, Handlers: []string{"log"}})
}

func BenchmarkObserveHTTP(b *testing.B) {
	m := benchMetrics()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveHTTP("GET /api/v1/{appid}/me", 200, 3*time.Millisecond)
	}
}

func BenchmarkObserveHTTPParallel(b *testing.B) {
	m := benchMetrics()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveHTTP("GET /api/v1/{appid}/me", 200, 3*time.Millisecond)
		}
	})
}

func BenchmarkObserveWeChatCall(b *testing.B) {
	m := benchMetrics()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("wxa", "/sns/jscode2session", "0", 40*time.Millisecond)
	}
}

func BenchmarkLoginAndPushCounters(b *testing.B) {
	m := benchMetrics()
	b.ReportAllocs()
	for b.Loop() {
		m.Login("wxa", LoginExisting)
		m.PushReceived("wxa", PushStored)
		m.PushHandled("log", HandledOK)
		m.PushLag(20 * time.Millisecond)
	}
}
