package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func checkSessionRoute(f *fakeWeChat) {
	f.route("/wxa/checksession", okRoute(nil))
}

func TestAccessTokenOneFetchAcrossCallersAndInstances(t *testing.T) {
	for _, mode := range []TokenMode{TokenModeStable, TokenModeClassic} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFake(t)
			gate := make(chan struct{})
			f.gate = gate
			store := NewMemoryTokenStore()
			clients := []*Client{f.client(WithTokenStore(store), WithTokenMode(mode)),
				f.client(WithTokenStore(store), WithTokenMode(mode))}
			var started, done sync.WaitGroup
			tokens := make([]string, 50)
			errs := make([]error, 50)
			for i := range 50 {
				started.Add(1)
				done.Add(1)
				go func() {
					defer done.Done()
					started.Done()
					tokens[i], errs[i] = clients[i%2].AccessToken(t.Context())
				}()
			}
			started.Wait()
			close(gate)
			done.Wait()
			for i := range 50 {
				if errs[i] != nil || tokens[i] != tokens[0] {
					t.Fatalf("caller %d: token %q err %v, want %q", i, tokens[i], errs[i], tokens[0])
				}
			}
			stable, _, classic := f.counts()
			if stable+classic != 1 {
				t.Fatalf("token fetches = %d stable + %d classic, want 1", stable, classic)
			}
			if _, ok, _ := store.Get(t.Context(), "wechat:{"+f.appID+"}:token-lock:"+mode.String()); ok {
				t.Fatal("fetch lock left in the store")
			}
		})
	}
}

func TestTokenEndpoints(t *testing.T) {
	f := newFake(t)
	if _, err := f.client().AccessToken(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls := f.recorded(pathStableToken)
	if len(calls) != 1 || calls[0].Method != http.MethodPost ||
		!strings.HasPrefix(calls[0].ContentType, "application/json") || len(calls[0].Query) != 0 {
		t.Fatalf("stable token request = %+v", calls)
	}
	var body map[string]any
	if err := json.Unmarshal(calls[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["grant_type"] != "client_credential" || body["appid"] != f.appID ||
		body["secret"] != f.secret || body["force_refresh"] != false {
		t.Fatalf("stable token body = %v", body)
	}

	if _, err := f.client(WithTokenMode(TokenModeClassic)).AccessToken(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls = f.recorded(pathToken)
	if len(calls) != 1 || calls[0].Method != http.MethodGet || calls[0].Query.Get("grant_type") != "client_credential" ||
		calls[0].Query.Get("appid") != f.appID || calls[0].Query.Get("secret") != f.secret {
		t.Fatalf("classic token request = %+v", calls)
	}
}

func TestTokenCachedWithMargin(t *testing.T) {
	f := newFake(t)
	store := NewMemoryTokenStore()
	clock := newFakeClock()
	store.now = clock.Now
	c := f.client(WithTokenStore(store))
	first, err := c.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(7200*time.Second - TokenMargin - time.Second)
	if tok, _ := c.AccessToken(t.Context()); tok != first {
		t.Fatalf("token before margin = %q, want cached %q", tok, first)
	}
	clock.Add(2 * time.Second)
	f.revoke(first) // WeChat moved on to the next token in the last 5 minutes
	if tok, _ := c.AccessToken(t.Context()); tok == first {
		t.Fatal("token not refreshed after expires_in - margin")
	}
	if stable, _, _ := f.counts(); stable != 2 {
		t.Fatalf("fetches = %d, want 2", stable)
	}
}

func TestTokenInvalidRetriedOnce(t *testing.T) {
	for _, mode := range []TokenMode{TokenModeStable, TokenModeClassic} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFake(t)
			checkSessionRoute(f)
			c := f.client(WithTokenMode(mode))
			old, err := c.AccessToken(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			f.revoke(old)
			if err := c.CheckSession(t.Context(), "openid", "key"); err != nil {
				t.Fatalf("CheckSession = %v", err)
			}
			calls := f.recorded("/wxa/checksession")
			if len(calls) != 2 || calls[0].Query.Get("access_token") != old ||
				calls[1].Query.Get("access_token") == old {
				t.Fatalf("calls = %+v, want one failure with the old token and one retry with a new one", calls)
			}
			stable, force, classic := f.counts()
			if stable+classic != 2 || force != 0 {
				t.Fatalf("fetches = %d stable + %d classic (%d forced), want 2 and 0 forced", stable, classic, force)
			}
			if tok, _ := c.AccessToken(t.Context()); tok != calls[1].Query.Get("access_token") {
				t.Fatalf("cached token = %q, want the retried one", tok)
			}
		})
	}
}

func TestTokenInvalidTwiceClassicSurfaces(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	f.failNext = 2
	err := f.client(WithTokenMode(TokenModeClassic)).CheckSession(t.Context(), "o", "k")
	var we *Error
	if !errors.As(err, &we) || we.Code != 40001 || !we.IsTokenInvalid() {
		t.Fatalf("err = %v, want *Error 40001", err)
	}
	if n := len(f.recorded("/wxa/checksession")); n != 2 {
		t.Fatalf("calls = %d, want 2 (one retry)", n)
	}
}

func TestInvalidateKeepsNewerToken(t *testing.T) {
	f := newFake(t)
	store := NewMemoryTokenStore()
	c := f.client(WithTokenStore(store))
	old, err := c.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	key := c.tokenKey()
	// While the call with the old token is in flight, another instance
	// refreshes and stores a newer token; then WeChat rejects the old one.
	var newer string
	f.route("/wxa/checksession", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") == old {
			f.mu.Lock()
			newer = f.issue()
			f.mu.Unlock()
			_ = store.Set(r.Context(), key, newer, time.Hour)
			writeJSON(w, errBody(40001, "invalid credential"))
			return
		}
		okRoute(nil)(w, r)
	})
	if err := c.CheckSession(t.Context(), "o", "k"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := store.Get(t.Context(), key); got != newer {
		t.Fatalf("cached token = %q, want the newer %q", got, newer)
	}
	calls := f.recorded("/wxa/checksession")
	if len(calls) != 2 || calls[1].Query.Get("access_token") != newer {
		t.Fatalf("retry used %+v, want the newer token", calls)
	}
	if stable, _, _ := f.counts(); stable != 1 {
		t.Fatalf("fetches = %d, want 1: the newer token should be used, not fetched", stable)
	}
	if err := c.InvalidateToken(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := store.Get(t.Context(), key); got != newer {
		t.Fatal("InvalidateToken with an old token dropped the newer one")
	}
}

func TestStableForceRefreshBudget(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	f.sameOnNormal = true // normal mode keeps handing back the rejected token
	clock := newFakeClock()
	store := NewMemoryTokenStore()
	c := f.client(WithTokenStore(store), WithClock(clock.Now))
	ctx := t.Context()
	tok, _ := c.AccessToken(ctx)
	f.revoke(tok)
	if err := c.CheckSession(ctx, "o", "k"); err != nil {
		t.Fatalf("first rejection: %v", err)
	}
	if _, force, _ := f.counts(); force != 1 {
		t.Fatalf("forced fetches = %d, want 1", force)
	}

	tok, _ = c.AccessToken(ctx)
	f.revoke(tok)
	clock.Add(ForceRefreshGap - time.Second)
	err := c.CheckSession(ctx, "o", "k")
	var we *Error
	if !errors.As(err, &we) || we.Code != 40001 || !errors.Is(err, ErrForceRefreshBudget) {
		t.Fatalf("within 30 s: err = %v, want 40001 and ErrForceRefreshBudget", err)
	}
	if _, force, _ := f.counts(); force != 1 {
		t.Fatalf("forced fetches = %d, want still 1", force)
	}

	// A second instance sharing the store is held to the same gap.
	other := f.client(WithTokenStore(store), WithClock(clock.Now))
	if err := other.CheckSession(ctx, "o", "k"); !errors.Is(err, ErrForceRefreshBudget) {
		t.Fatalf("other instance within 30 s: err = %v", err)
	}

	clock.Add(2 * time.Second)
	if err := c.CheckSession(ctx, "o", "k"); err != nil {
		t.Fatalf("after 30 s: %v", err)
	}
	if _, force, _ := f.counts(); force != 2 {
		t.Fatalf("forced fetches = %d, want 2", force)
	}
}

// TestStableForceWhenRefetchIsTheSameToken: when the normal refetch after
// a 40001 hands back the very token that failed, the refresh is forced at
// once: two API calls (the refused one and the one that passes), not a
// third spent on the known-bad token (issue #6 item 13).
func TestStableForceWhenRefetchIsTheSameToken(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	f.sameOnNormal = true
	c := f.client(WithClock(newFakeClock().Now))
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok)
	if err := c.CheckSession(t.Context(), "o", "k"); err != nil {
		t.Fatal(err)
	}
	calls := f.recorded("/wxa/checksession")
	if _, force, _ := f.counts(); force != 1 || len(calls) != 2 {
		t.Fatalf("forced = %d, calls = %d; want 1 force and 2 calls", force, len(calls))
	}
	if calls[0].Query.Get("access_token") != tok || calls[1].Query.Get("access_token") == tok {
		t.Fatalf("tokens used %q then %q", calls[0].Query.Get("access_token"), calls[1].Query.Get("access_token"))
	}
}

func TestStableForceAfterSecondRejection(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	c := f.client(WithClock(newFakeClock().Now))
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok)
	f.failNext = 1 // the normally refetched token is rejected too
	if err := c.CheckSession(t.Context(), "o", "k"); err != nil {
		t.Fatal(err)
	}
	calls := f.recorded("/wxa/checksession")
	if _, force, _ := f.counts(); force != 1 || len(calls) != 3 {
		t.Fatalf("forced = %d, calls = %d; want 1 force and 3 calls", force, len(calls))
	}
	seen := map[string]bool{}
	for _, c := range calls {
		seen[c.Query.Get("access_token")] = true
	}
	if len(seen) != 3 {
		t.Fatalf("tokens used = %v, want three different", seen)
	}
}

func TestForceRefreshDailyLimit(t *testing.T) {
	f := newFake(t)
	clock := newFakeClock()
	c := f.client(WithClock(clock.Now))
	for i := range ForceRefreshPerDay {
		if err := c.takeForceBudget(t.Context()); err != nil {
			t.Fatalf("force %d: %v", i+1, err)
		}
		clock.Add(ForceRefreshGap)
	}
	if err := c.takeForceBudget(t.Context()); !errors.Is(err, ErrForceRefreshBudget) {
		t.Fatalf("force 21 = %v, want ErrForceRefreshBudget", err)
	}
	clock.Add(24 * time.Hour)
	if err := c.takeForceBudget(t.Context()); err != nil {
		t.Fatalf("next day: %v", err)
	}
}

func TestTokenFetchErrorsNotRetried(t *testing.T) {
	f := newFake(t)
	checkSessionRoute(f)
	c := NewClient(f.appID, "wrong-secret", WithBaseURL(f.srv.URL))
	err := c.CheckSession(t.Context(), "o", "k")
	var we *Error
	if !errors.As(err, &we) || we.Code != 40125 || we.IsTokenInvalid() || IsRetryable(err) {
		t.Fatalf("err = %v, want *Error 40125 not token-invalid, not retryable", err)
	}
	if n := len(f.recorded(pathStableToken)); n != 1 {
		t.Fatalf("token fetches = %d, want 1", n)
	}
	if n := len(f.recorded("/wxa/checksession")); n != 0 {
		t.Fatalf("API calls = %d, want 0", n)
	}
	// Classic 40001 on the token endpoint means a wrong secret, not a stale token.
	c = NewClient(f.appID, "wrong-secret", WithBaseURL(f.srv.URL), WithTokenMode(TokenModeClassic))
	err = c.CheckSession(t.Context(), "o", "k")
	if !errors.As(err, &we) || we.Code != 40001 || we.IsTokenInvalid() {
		t.Fatalf("classic err = %v, want *Error 40001 that is not token-invalid", err)
	}
	if n := len(f.recorded(pathToken)); n != 1 {
		t.Fatalf("classic token fetches = %d, want 1", n)
	}
}

func TestWaiterTakesTokenStoredByLockHolder(t *testing.T) {
	f := newFake(t)
	store := NewMemoryTokenStore()
	c := f.client(WithTokenStore(store))
	ctx := t.Context()
	// Another instance holds the lock; it stores a token and releases.
	if ok, _ := store.SetNX(ctx, c.lockKey(), "other", time.Minute); !ok {
		t.Fatal("lock not taken")
	}
	got := make(chan string, 1)
	go func() {
		tok, _ := c.AccessToken(ctx)
		got <- tok
	}()
	_ = store.Set(ctx, c.tokenKey(), "FROM-OTHER", time.Hour)
	_, _ = store.DeleteIfEqual(ctx, c.lockKey(), "other")
	if tok := <-got; tok != "FROM-OTHER" {
		t.Fatalf("token = %q, want the one the lock holder stored", tok)
	}
	if stable, _, _ := f.counts(); stable != 0 {
		t.Fatalf("fetches = %d, want 0", stable)
	}
}

func TestWaiterGivesUpWithContext(t *testing.T) {
	f := newFake(t)
	store := NewMemoryTokenStore()
	c := f.client(WithTokenStore(store))
	_, _ = store.SetNX(t.Context(), c.lockKey(), "other", time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.AccessToken(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// slowAnswer hands back the first response only when released, after
// saying it has it: a fetch that outlives its lock.
type slowAnswer struct {
	once     sync.Once
	answered chan struct{}
	release  chan struct{}
}

func (s *slowAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	s.once.Do(func() {
		close(s.answered)
		<-s.release
	})
	return resp, err
}

func TestSlowFetchDoesNotReplaceNewerToken(t *testing.T) {
	f := newFake(t)
	store := NewMemoryTokenStore()
	clock := newFakeClock()
	store.now = clock.Now
	slow := &slowAnswer{answered: make(chan struct{}), release: make(chan struct{})}
	a := f.client(WithTokenStore(store), WithTokenMode(TokenModeClassic), WithHTTPClient(&http.Client{Transport: slow}))
	b := f.client(WithTokenStore(store), WithTokenMode(TokenModeClassic))
	older := make(chan string, 1)
	go func() {
		tok, err := a.AccessToken(t.Context())
		if err != nil {
			t.Error(err)
		}
		older <- tok
	}()
	<-slow.answered // WeChat issued a's token; a has not stored it yet
	clock.Add(a.lockTTL())
	newer, err := b.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	if tok := <-older; tok == newer || tok == "" {
		t.Fatalf("a got %q, b got %q: want two tokens", tok, newer)
	}
	for _, c := range []*Client{a, b} {
		if tok := mustToken(t, c); tok != newer {
			t.Fatalf("cached token = %q, want the newer %q", tok, newer)
		}
	}
	if _, _, classic := f.counts(); classic != 2 {
		t.Fatalf("fetches = %d, want 2", classic)
	}
}
