package wechat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback/internal/flex"
)

const (
	pathToken       = "/cgi-bin/token"
	pathStableToken = "/cgi-bin/stable_token"
)

// TokenMargin is how long before its expiry a cached access token is
// dropped. Five minutes matches stable_token: in normal mode it returns the
// same token until the token's last five minutes, then the next one, so a
// refresh at that point gets a new token while the old one stays valid.
const TokenMargin = 5 * time.Minute

// Force-refresh budget set by WeChat for stable_token, per appid.
const (
	ForceRefreshPerDay = 20
	ForceRefreshGap    = 30 * time.Second
)

// ErrForceRefreshBudget is joined to a token error when a stable token kept
// failing and force_refresh was not used because WeChat's budget (20 a day,
// 30 s apart per appid) was spent.
var ErrForceRefreshBudget = errors.New("wechat: force_refresh budget spent")

// wechatDay is the time zone in which WeChat counts daily quotas.
var wechatDay = time.FixedZone("CST", 8*3600)

// The keys of one app carry its appid as a hash tag ({appid}), so that on a
// Redis Cluster they live on one slot.
func (c *Client) tokenKey() string { return "wechat:{" + c.appID + "}:token:" + c.mode.String() }
func (c *Client) lockKey() string  { return "wechat:{" + c.appID + "}:token-lock:" + c.mode.String() }
func (c *Client) genKey() string   { return "wechat:{" + c.appID + "}:token-gen:" + c.mode.String() }
func (c *Client) gapKey() string   { return "wechat:{" + c.appID + "}:token-force-gap" }
func (c *Client) dayKey(t time.Time) string {
	return "wechat:{" + c.appID + "}:token-force-day:" + t.In(wechatDay).Format("20060102")
}

// lockTTL covers one token fetch, so a holder that dies frees the lock soon.
func (c *Client) lockTTL() time.Duration { return c.timeout + 2*time.Second }

// AccessToken returns a valid access token, from the store when cached,
// else fetched by one caller at a time across instances sharing the store.
// It fails with *Error when the token endpoint refuses (wrong secret, IP not
// whitelisted, ...) and with the store's error when the store fails. Safe
// for concurrent use.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	if tok, ok, err := c.cached(ctx, ""); err != nil || ok {
		return tok, err
	}
	return c.shared(ctx, "", false)
}

// TokenCached reports whether an access token is in the store now, without
// fetching one (a client fetches on first use). It fails with the store's
// error when the store fails. Safe for concurrent use.
func (c *Client) TokenCached(ctx context.Context) (bool, error) {
	_, ok, err := c.cached(ctx, "")
	return ok, err
}

// InvalidateToken drops the cached access token, but only while it still
// equals token, so a newer token stored by another caller survives.
func (c *Client) InvalidateToken(ctx context.Context, token string) error {
	raw, ok, err := c.store.Get(ctx, c.tokenKey())
	if err != nil {
		return fmt.Errorf("wechat: invalidate token: %w", err)
	}
	if _, tok := decodeToken(raw); !ok || tok != token {
		return nil
	}
	// Compare the whole stored value: a newer store of the same token
	// string (another generation) is left alone too.
	if _, err := c.store.DeleteIfEqual(ctx, c.tokenKey(), raw); err != nil {
		return fmt.Errorf("wechat: invalidate token: %w", err)
	}
	return nil
}

// cached returns the cached token unless it is absent or equals stale.
func (c *Client) cached(ctx context.Context, stale string) (string, bool, error) {
	raw, ok, err := c.store.Get(ctx, c.tokenKey())
	if err != nil {
		return "", false, fmt.Errorf("wechat: read token: %w", err)
	}
	_, tok := decodeToken(raw)
	if !ok || tok == "" || tok == stale {
		return "", false, nil
	}
	c.hadToken.Store(true)
	return tok, true, nil
}

// The cached value is "<generation>:<token>". Each fetch takes the next
// generation from a counter in the store once it holds the lock, so a later
// fetch has a higher one whatever the instances' clocks say. A value without
// a generation (written by an older miniback, or by hand) counts as
// generation 0.
func encodeToken(gen int64, tok string) string { return strconv.FormatInt(gen, 10) + ":" + tok }

func decodeToken(raw string) (gen int64, tok string) {
	g, t, ok := strings.Cut(raw, ":")
	if !ok {
		return 0, raw
	}
	n, err := strconv.ParseInt(g, 10, 64)
	if err != nil || n <= 0 {
		return 0, raw
	}
	return n, t
}

// storeToken caches tok of generation gen unless the cache holds a token of
// the same or a later generation: a fetch that outlived its lock never
// replaces the token of a fetch that started after it. Each write is
// atomic in the store (SetNX on an absent key, else compare-and-set on the
// value read); a lost race reads again.
func (c *Client) storeToken(ctx context.Context, gen int64, tok string, ttl time.Duration) error {
	value := encodeToken(gen, tok)
	for range 10 {
		raw, ok, err := c.store.Get(ctx, c.tokenKey())
		if err != nil {
			return err
		}
		var done bool
		switch cur, _ := decodeToken(raw); {
		case !ok:
			done, err = c.store.SetNX(ctx, c.tokenKey(), value, ttl)
		case cur >= gen:
			c.log.DebugContext(ctx, "wechat access token not cached: a newer one is", "appid", c.appID,
				"mode", c.mode.String(), "generation", gen, "cached_generation", cur)
			return nil
		default:
			done, err = c.store.SetIfEqual(ctx, c.tokenKey(), raw, value, ttl)
		}
		if err != nil || done {
			return err
		}
	}
	// Ten lost races in a row: others keep writing, so leave it to them;
	// this caller still gets its fresh token.
	return nil
}

// flight is one token fetch in progress in this process.
type flight struct {
	done  chan struct{}
	token string
	err   error
}

// shared runs one fetch per (stale, force) in this process; other callers
// wait for its result. If the leader's context ended, a waiter whose own
// context is alive tries again instead of inheriting that error.
func (c *Client) shared(ctx context.Context, stale string, force bool) (string, error) {
	key := strconv.FormatBool(force) + "|" + stale
	for {
		c.mu.Lock()
		f, ok := c.flights[key]
		if !ok {
			f = &flight{done: make(chan struct{})}
			c.flights[key] = f
			c.mu.Unlock()
			f.token, f.err = c.fetchLocked(ctx, stale, force)
			c.mu.Lock()
			delete(c.flights, key)
			c.mu.Unlock()
			close(f.done)
			return f.token, f.err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-f.done:
		}
		if isContextErr(f.err) && ctx.Err() == nil {
			continue
		}
		return f.token, f.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetchLocked takes the store lock, polling with backoff while another
// instance holds it, and returns the token that instance stored if any.
func (c *Client) fetchLocked(ctx context.Context, stale string, force bool) (string, error) {
	owner, err := randomOwner()
	if err != nil {
		return "", err
	}
	backoff := 10 * time.Millisecond
	for {
		if tok, ok, err := c.cached(ctx, stale); err != nil || ok {
			return tok, err
		}
		got, err := c.store.SetNX(ctx, c.lockKey(), owner, c.lockTTL())
		if err != nil {
			return "", fmt.Errorf("wechat: token lock: %w", err)
		}
		if got {
			return c.fetchHolding(ctx, owner, stale, force)
		}
		if err := wait(ctx, backoff); err != nil {
			return "", err
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fetchHolding fetches and stores a token while holding the store lock.
func (c *Client) fetchHolding(ctx context.Context, owner, stale string, force bool) (string, error) {
	defer c.unlock(ctx, owner)
	// Another instance may have stored a token between our cache read and
	// the lock.
	if tok, ok, err := c.cached(ctx, stale); err != nil || ok {
		return tok, err
	}
	if force {
		if err := c.takeForceBudget(ctx); err != nil {
			return "", err
		}
	}
	gen, err := c.store.Incr(ctx, c.genKey(), 0)
	if err != nil {
		return "", fmt.Errorf("wechat: token generation: %w", err)
	}
	if c.obs != nil {
		c.obs.ObserveTokenFetch(c.appID, c.mode.String(), c.tokenReason(stale, force))
	}
	tok, expiresIn, err := c.fetchToken(ctx, force)
	if err != nil {
		return "", err
	}
	c.hadToken.Store(true)
	if err := c.storeToken(ctx, gen, tok, tokenTTL(expiresIn)); err != nil {
		return "", fmt.Errorf("wechat: store token: %w", err)
	}
	c.log.DebugContext(ctx, "wechat access token fetched", "appid", c.appID,
		"mode", c.mode.String(), "force_refresh", force, "expires_in", expiresIn.Seconds())
	return tok, nil
}

func (c *Client) unlock(ctx context.Context, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	// A failed release only delays others until the lock's TTL passes.
	_, _ = c.store.DeleteIfEqual(ctx, c.lockKey(), owner)
}

// tokenTTL keeps a token for expires_in minus TokenMargin, or half its life
// when that would leave less than a minute.
func tokenTTL(expiresIn time.Duration) time.Duration {
	if ttl := expiresIn - TokenMargin; ttl >= time.Minute {
		return ttl
	}
	return max(expiresIn/2, time.Second)
}

func randomOwner() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("wechat: lock owner: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// takeForceBudget claims one force_refresh within WeChat's budget: a gap key
// holding the time of the last one (SetNX, 30 s TTL) and a per-day counter.
// The gap is also checked against the client's clock, so a store whose TTLs
// run on another clock cannot let two forces through within 30 s.
func (c *Client) takeForceBudget(ctx context.Context) error {
	now := c.now()
	stamp := strconv.FormatInt(now.UnixMilli(), 10)
	ok, err := c.store.SetNX(ctx, c.gapKey(), stamp, ForceRefreshGap)
	if err != nil {
		return fmt.Errorf("wechat: force_refresh gap: %w", err)
	}
	if !ok {
		if ok, err = c.retakeGap(ctx, now, stamp); err != nil || !ok {
			return errors.Join(err, ErrForceRefreshBudget)
		}
	}
	n, err := c.store.Incr(ctx, c.dayKey(now), 25*time.Hour)
	if err != nil {
		return fmt.Errorf("wechat: force_refresh count: %w", err)
	}
	if n > ForceRefreshPerDay {
		return ErrForceRefreshBudget
	}
	return nil
}

// retakeGap replaces a gap key that the client's clock says is older than
// ForceRefreshGap.
func (c *Client) retakeGap(ctx context.Context, now time.Time, stamp string) (bool, error) {
	prev, found, err := c.store.Get(ctx, c.gapKey())
	if err != nil {
		return false, fmt.Errorf("wechat: force_refresh gap: %w", err)
	}
	if found {
		ms, perr := strconv.ParseInt(prev, 10, 64)
		if perr == nil && now.Sub(time.UnixMilli(ms)) < ForceRefreshGap {
			return false, nil
		}
		if _, err := c.store.DeleteIfEqual(ctx, c.gapKey(), prev); err != nil {
			return false, fmt.Errorf("wechat: force_refresh gap: %w", err)
		}
	}
	ok, err := c.store.SetNX(ctx, c.gapKey(), stamp, ForceRefreshGap)
	if err != nil {
		return false, fmt.Errorf("wechat: force_refresh gap: %w", err)
	}
	return ok, nil
}

type tokenAnswer struct {
	AccessToken string   `json:"access_token"`
	ExpiresIn   flex.Int `json:"expires_in"`
}

// fetchToken asks WeChat for a token. Its errors are never retried here:
// 40013, 40125, 40164, 40243, ... do not pass by asking again.
func (c *Client) fetchToken(ctx context.Context, force bool) (string, time.Duration, error) {
	r, err := c.tokenRequest(force)
	if err != nil {
		return "", 0, err
	}
	var ans tokenAnswer
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return "", 0, err
	}
	if ans.AccessToken == "" || ans.ExpiresIn <= 0 {
		return "", 0, errUnexpected(r.path, "no access_token or expires_in")
	}
	return ans.AccessToken, time.Duration(ans.ExpiresIn) * time.Second, nil
}

func (c *Client) tokenRequest(force bool) (*request, error) {
	if c.mode == TokenModeClassic {
		q := url.Values{"grant_type": {"client_credential"}, "appid": {c.appID}, "secret": {c.secret}}
		return &request{method: http.MethodGet, path: pathToken, query: q}, nil
	}
	r, err := newJSONRequest(pathStableToken, map[string]any{
		"grant_type": "client_credential", "appid": c.appID, "secret": c.secret, "force_refresh": force,
	})
	if err != nil {
		return nil, err
	}
	r.auth = false
	return r, nil
}

// withToken runs call with an access token. On a token error it drops the
// token only if it is still cached, fetches another and retries once; in
// stable mode it may force a new token once, within WeChat's budget: at
// once when the normal fetch gave back the refused token, else after the
// retry is refused too.
func (c *Client) withToken(ctx context.Context, call func(context.Context, string) error) error {
	tok, err := c.AccessToken(ctx)
	if err != nil {
		return err
	}
	err = call(ctx, tok)
	if !isTokenInvalid(err) {
		return err
	}
	next, rerr := c.renew(ctx, tok)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	if next == tok && c.mode == TokenModeStable {
		// The stable endpoint handed back the very token WeChat just
		// refused: a retry with it would spend a call on a known answer,
		// so force a new one at once (within the budget).
		forced, ferr := c.shared(ctx, tok, true)
		if ferr != nil {
			return errors.Join(err, ferr)
		}
		return call(ctx, forced)
	}
	err = call(ctx, next)
	if !isTokenInvalid(err) || c.mode != TokenModeStable {
		return err
	}
	next, rerr = c.shared(ctx, next, true)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	return call(ctx, next)
}

// renew replaces the failed token with whatever a normal fetch gives. In
// stable mode that can be the very token that failed (withToken then
// forces at once); a different token is tried before any force, so a
// passing 40001 does not spend the daily force_refresh budget.
func (c *Client) renew(ctx context.Context, failed string) (string, error) {
	if err := c.InvalidateToken(ctx, failed); err != nil {
		return "", err
	}
	return c.shared(ctx, failed, false)
}

func isTokenInvalid(err error) bool {
	var we *Error
	return errors.As(err, &we) && we.IsTokenInvalid()
}
