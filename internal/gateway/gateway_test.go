package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestMemoryLimiterRefillsEvenly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := &MemoryLimiter{Now: func() time.Time { return now }}
	r := Rate{N: 3, Per: time.Minute}
	for i := range 3 {
		d, _ := l.Allow(context.Background(), "k", r)
		if !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("call %d: %+v", i, d)
		}
	}
	d, _ := l.Allow(context.Background(), "k", r)
	if d.Allowed || d.RetryAfter != 20*time.Second || d.Reset != time.Minute {
		t.Fatalf("over the limit: %+v", d)
	}
	if d, _ := l.Allow(context.Background(), "other", r); !d.Allowed {
		t.Fatalf("another key shares the bucket: %+v", d)
	}
	now = now.Add(20 * time.Second) // one request's worth refilled
	if d, _ := l.Allow(context.Background(), "k", r); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after refill: %+v", d)
	}
	if d, _ := l.Allow(context.Background(), "k", r); d.Allowed {
		t.Fatalf("refilled more than one: %+v", d)
	}
}

func TestOverlaps(t *testing.T) {
	own := []string{"POST /api/v1/{appid}/login", "GET /api/v1/{appid}/me", "GET /api/v1/{appid}/media/{media_id}", "/sandbox/", "GET /healthz", "/"}
	tests := []struct {
		prefix string
		want   bool
	}{
		{"/api/v1/{appid}/shop/", false},
		{"/api/v1/wxa/shop/", false},
		{"/api/v1/{appid}/", true},
		{"/api/v1/", true},
		{"/api/v1/wxa/me/", true},
		{"/api/v1/{appid}/media/x/", true},
		{"/api/v1/{appid}/me/x/", false},
		{"/sandbox/x/", true},
		{"/healthz/", true},
		{"/svc/", false},
	}
	for _, tt := range tests {
		if _, got := Overlaps(tt.prefix, own); got != tt.want {
			t.Errorf("Overlaps(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
		proxies                 Proxies
	}{
		{"direct", "203.0.113.1:5000", "", "203.0.113.1", trusted},
		{"untrusted peer ignores xff", "203.0.113.1:5000", "1.2.3.4", "203.0.113.1", trusted},
		{"trusted peer", "10.1.1.1:5000", "198.51.100.2", "198.51.100.2", trusted},
		{"chain of proxies", "10.1.1.1:5000", "198.51.100.2, 10.2.2.2", "198.51.100.2", trusted},
		{"client-written entry left of the client", "10.1.1.1:5000", "6.6.6.6, 198.51.100.2", "198.51.100.2", trusted},
		{"garbage stops the walk", "10.1.1.1:5000", "x, 10.2.2.2", "10.2.2.2", trusted},
		{"nobody trusted", "10.1.1.1:5000", "1.2.3.4", "10.1.1.1", nil},
		{"ipv6", "[2001:db8::1]:443", "", "2001:db8::1", trusted},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := tt.proxies.ClientIP(r); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestBreakerOpensAfterFailuresAndRatio(t *testing.T) {
	c := BreakerConfig{Failures: 3, Ratio: 0.5, MinCalls: 4, Window: time.Minute, OpenFor: time.Hour, Probes: 1}
	b := NewBreaker("consecutive", c)
	for range 3 {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(true)
	}
	if _, err := b.Allow(); err == nil || b.State() != "open" || b.RetryAfter() < 59*time.Minute {
		t.Fatalf("after 3 failures: %v %s %s", err, b.State(), b.RetryAfter())
	}
	b = NewBreaker("ratio", c)
	for _, failed := range []bool{true, false, true, false, true} { // 3 of 5 > 0.5, never 3 in a row
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("opened early: %v", err)
		}
		done(failed)
	}
	if b.State() != "open" {
		t.Fatalf("ratio: %s", b.State())
	}
}

func TestHostBreakersCountWeChatBusyNotRefusals(t *testing.T) {
	body := `{"errcode":40001,"errmsg":"invalid credential"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	hb := &HostBreakers{Config: BreakerConfig{Failures: 2, Ratio: 1, MinCalls: 100, Window: time.Minute, OpenFor: time.Hour, Probes: 1}}
	c := &http.Client{Transport: hb}
	get := func() error {
		resp, err := c.Get(srv.URL + "/cgi-bin/x")
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != body {
			t.Fatalf("the answer was changed: %q", b)
		}
		return nil
	}
	for range 3 { // WeChat refusing the request is not WeChat failing
		if err := get(); err != nil {
			t.Fatal(err)
		}
	}
	body = `{"errcode":-1,"errmsg":"system error"}`
	get()
	get()
	var open *OpenError
	if err := get(); !errors.As(err, &open) || open.RetryAfter < 59*time.Minute {
		t.Fatalf("after two -1: %v", err)
	}
	if hb.Wait(strings.TrimPrefix(srv.URL, "http://")) <= 0 {
		t.Fatal("Wait is 0 while open")
	}
}

// TestBusy covers the answers that count against WeChat's breaker: only
// errcode -1, however encoding/json would find it.
func TestBusy(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{`{"errcode":-1,"errmsg":"system error"}`, true},
		{` {"ErrCode":-1}`, true},     // encoding/json ignores the key's case
		{`{"\u0065rrcode":-1}`, true}, // and reads escapes in keys
		{`{"errcode":"-1"}`, true},
		{`{"errcode":40029,"errmsg":"invalid code"}`, false},
		{`{"openid":"o1","session_key":"k"}`, false},
		{`{"errmsg":"errcode -1"}`, false},
		{`<html>`, false},
		{``, false},
	} {
		if got := busy([]byte(tt.body)); got != tt.want {
			t.Errorf("busy(%s) = %v, want %v", tt.body, got, tt.want)
		}
	}
}
