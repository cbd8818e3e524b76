// Package wechat is a client for the server-side API of WeChat Mini Programs
// (api.weixin.qq.com): login (code2Session), phone numbers, session-key
// checks, customer-service and subscribe messages, temporary media, mini
// program codes, URL links and schemes, and content security.
//
// It uses only the standard library and can be used on its own:
//
//	c := wechat.NewClient(appID, secret,
//		wechat.WithTokenStore(store), // shared across instances, e.g. Redis
//	)
//	sess, err := c.Code2Session(ctx, code)
//
// # Access tokens
//
// Calls that need an access_token get it from a [TokenStore] under the key
// "wechat:{<appid>}:token:<mode>" (the braces are a Redis Cluster hash tag,
// so one app's keys share a slot). The token is cached for expires_in minus
// five minutes ([TokenMargin]) so that it is refreshed before it expires; in
// the default stable mode (POST /cgi-bin/stable_token) that refresh falls in
// the token's last five minutes, when WeChat hands out the next token while
// the old one stays valid. At most one fetch runs at a time per appid: callers
// in one process share one fetch, and instances sharing a store take a lock in
// it (SetNX with a random owner, released with DeleteIfEqual) and double-check
// the cache once they hold it. The lock only saves fetches: each fetch takes
// a generation number (a counter in the store) with the lock, the cached
// value is "<generation>:<token>", and a token is cached only over an older
// generation (compare-and-set), so a fetch that outlived its lock never
// replaces a newer token.
//
// When a call answers 40001, 40014, 41001 or 42001 the cached token is
// deleted only if it is still the token that failed, a new one is fetched and
// the call is retried once. In stable mode a normal fetch can return the very
// token that failed; then, and when the retry fails again with a token error,
// the client asks for force_refresh, but only within WeChat's budget of 20 a
// day and 30 s apart per appid, counted in the store across instances.
// Outside that budget the token error is returned. Errors from the token
// endpoints themselves (40013, 40125, 40164, 40243, ...) are not retried.
//
// # Errors
//
// An answer with a non-zero errcode is an [*Error]; a non-200 HTTP status is
// an [*HTTPError]; transport failures are wrapped with %w. [IsRetryable]
// tells which of them may pass when tried later. Error strings and logs never
// contain the AppSecret, an access token or a session_key.
//
// A Client is safe for concurrent use by multiple goroutines.
package wechat
