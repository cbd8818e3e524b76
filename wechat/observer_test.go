package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu       sync.Mutex
	requests []string // "path outcome"
	fetches  []string // "mode reason"
}

func (r *recorder) ObserveRequest(appID, path, outcome string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, path+" "+outcome)
}

func (r *recorder) ObserveTokenFetch(appID, mode, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetches = append(r.fetches, mode+" "+reason)
}

func TestObserverSeesCallsAndTokenReasons(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	f.failNext = 1 // the first call fails; the normal refetch hands back the same token, so a refresh is forced
	obs := &recorder{}
	store := NewMemoryTokenStore()
	c := f.client(WithObserver(obs), WithTokenStore(store))
	if err := c.CheckSession(t.Context(), "openid", "key"); err != nil {
		t.Fatal(err)
	}
	// The cached token expires: the next fetch is "expired", not "cold".
	if err := c.InvalidateToken(t.Context(), mustToken(t, c)); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSession(t.Context(), "openid", "key"); err != nil {
		t.Fatal(err)
	}
	wantFetches := []string{"stable cold", "stable invalid", "stable forced", "stable expired"}
	if !slices.Equal(obs.fetches, wantFetches) {
		t.Errorf("token fetches = %q, want %q", obs.fetches, wantFetches)
	}
	wantRequests := []string{
		"/cgi-bin/stable_token 0", "/wxa/checksession 40001",
		"/cgi-bin/stable_token 0", // the normal refetch: the same token
		"/cgi-bin/stable_token 0", "/wxa/checksession 0",
		"/cgi-bin/stable_token 0", "/wxa/checksession 0",
	}
	if !slices.Equal(obs.requests, wantRequests) {
		t.Errorf("requests = %q, want %q", obs.requests, wantRequests)
	}
}

func TestObserverSeesBinaryCalls(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/getwxacodeunlimit", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errBody(41030, "invalid page"))
	})
	obs := &recorder{}
	c := f.client(WithObserver(obs))
	if _, _, err := c.UnlimitedCode(t.Context(), &UnlimitedCodeRequest{Scene: "a=1"}); err == nil {
		t.Fatal("want an error")
	}
	if want := "/wxa/getwxacodeunlimit 41030"; !slices.Contains(obs.requests, want) {
		t.Errorf("requests = %q, want %q among them", obs.requests, want)
	}
}

func mustToken(t *testing.T, c *Client) string {
	t.Helper()
	tok, err := c.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "0"},
		{&Error{Code: 45009}, "45009"},
		{fmt.Errorf("wrapped: %w", &Error{Code: -1}), "-1"},
		{&HTTPError{StatusCode: 502}, "http_5xx"},
		{&HTTPError{StatusCode: 404}, "http_4xx"},
		{&transportError{api: "/x", err: context.DeadlineExceeded}, "timeout"},
		{&transportError{api: "/x", err: errors.New("connection refused")}, "network"},
		{context.Canceled, "canceled"},
		{&transportError{api: "/x", err: breakerOpen{}}, "circuit_open"},
		{errUnexpected("/x", "garbage"), "invalid_answer"},
	} {
		if got := Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// breakerOpen is what a breaking transport returns instead of calling.
type breakerOpen struct{}

func (breakerOpen) Error() string     { return "circuit breaker open" }
func (breakerOpen) CircuitOpen() bool { return true }
