package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// HostBreakers is an http.RoundTripper with one circuit breaker per host,
// made for the WeChat client: a failure is a transport error, a timeout, an
// HTTP 5xx or a JSON answer with errcode -1 (WeChat busy). WeChat's other
// errcodes say the request was wrong, not that WeChat is down, so they
// count as successes. While a host's breaker is open, RoundTrip returns an
// *OpenError at once without sending anything. Safe for concurrent use.
type HostBreakers struct {
	// Next makes the calls; nil is http.DefaultTransport.
	Next   http.RoundTripper
	Config BreakerConfig

	mu       sync.Mutex
	breakers map[string]*Breaker
}

// Breaker returns the breaker of host (created closed on first use).
func (h *HostBreakers) Breaker(host string) *Breaker {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.breakers == nil {
		h.breakers = map[string]*Breaker{}
	}
	b, ok := h.breakers[host]
	if !ok {
		b = NewBreaker(host, h.Config)
		h.breakers[host] = b
	}
	return b
}

// Wait is how long calls to host must wait for its breaker: 0 when they may
// go now.
func (h *HostBreakers) Wait(host string) time.Duration {
	return h.Breaker(host).RetryAfter()
}

// maxPeek bounds the JSON answer read to look for errcode -1; WeChat's JSON
// answers are far smaller.
const maxPeek = 1 << 20

// RoundTrip implements http.RoundTripper.
func (h *HostBreakers) RoundTrip(req *http.Request) (*http.Response, error) {
	b := h.Breaker(req.URL.Host)
	done, err := b.Allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	next := h.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		// A caller that gave up says nothing about WeChat's health.
		done(!errors.Is(err, context.Canceled) || req.Context().Err() == nil)
		return nil, err
	}
	if resp.StatusCode >= 500 {
		done(true)
		return resp, nil
	}
	if !isJSON(resp.Header.Get("Content-Type")) {
		done(false)
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPeek))
	resp.Body.Close()
	if err != nil {
		done(true)
		return nil, err
	}
	done(busy(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// isJSON tells the answers that may carry an errcode: WeChat labels its
// JSON application/json or text/plain.
func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return ct == "" || strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/plain")
}

func busy(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	// Most answers, code2session's success among them, carry no errcode:
	// they are not decoded. encoding/json matches keys without regard to
	// case and reads \u escapes, so only a body with neither "errcode" in
	// any case nor a backslash is skipped.
	if bytes.IndexByte(t, '\\') < 0 && !containsFoldASCII(t, "errcode") {
		return false
	}
	var env struct {
		ErrCode json.Number `json:"errcode"`
	}
	return json.Unmarshal(t, &env) == nil && env.ErrCode == "-1"
}

// containsFoldASCII reports whether b contains word (lower-case ASCII
// letters) in any mix of cases.
func containsFoldASCII(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		j := 0
		for j < len(word) && b[i+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}
