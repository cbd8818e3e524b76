package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miniback/miniback/internal/flex"
)

// DefaultBaseURL is the WeChat API host used unless [WithBaseURL] is given.
const DefaultBaseURL = "https://api.weixin.qq.com"

// DefaultTimeout bounds every HTTP request unless [WithTimeout] is given.
const DefaultTimeout = 5 * time.Second

const (
	maxJSONBytes  = 1 << 20  // JSON answers are small; larger ones are refused
	maxMediaBytes = 20 << 20 // media and code images
)

// TokenMode chooses the endpoint that issues access tokens.
type TokenMode int

const (
	// TokenModeStable uses POST /cgi-bin/stable_token, which does not
	// invalidate tokens held elsewhere. It is the default.
	TokenModeStable TokenMode = iota
	// TokenModeClassic uses GET /cgi-bin/token; each fetch invalidates the
	// previous token after five minutes.
	TokenModeClassic
)

// String returns "stable" or "classic".
func (m TokenMode) String() string {
	if m == TokenModeClassic {
		return "classic"
	}
	return "stable"
}

// Client calls the WeChat API for one mini program. It is safe for
// concurrent use; create it with [NewClient].
type Client struct {
	appID   string
	secret  string
	baseURL string
	hc      *http.Client
	store   TokenStore
	mode    TokenMode
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	obs     Observer

	hadToken atomic.Bool // a token was seen: a later miss is an expiry, not a cold start
	mu       sync.Mutex
	flights  map[string]*flight
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the API host, e.g. a sandbox's URL. A trailing slash is
// ignored.
func WithBaseURL(u string) Option {
	return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") }
}

// WithHTTPClient sets the HTTP client; the default is a new http.Client.
// nil is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTokenStore sets where access tokens, locks and the force-refresh budget
// are kept. Instances that share a store share tokens. The default is a
// store private to this Client ([NewMemoryTokenStore]).
func WithTokenStore(s TokenStore) Option { return func(c *Client) { c.store = s } }

// WithTokenMode chooses the token endpoint; the default is TokenModeStable.
func WithTokenMode(m TokenMode) Option { return func(c *Client) { c.mode = m } }

// WithTimeout bounds each HTTP request (default 5 s). It is applied with
// context.WithTimeout under the caller's context. Non-positive values are
// ignored.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithClock sets the clock used for the force-refresh budget (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithLogger sets the logger for token refreshes (debug level). The default
// discards; nil is ignored. Tokens, secrets and session keys are never
// logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// NewClient returns a client for the mini program appID with its AppSecret.
func NewClient(appID, secret string, opts ...Option) *Client {
	c := &Client{
		appID:   appID,
		secret:  secret,
		baseURL: DefaultBaseURL,
		hc:      &http.Client{},
		timeout: DefaultTimeout,
		now:     time.Now,
		log:     slog.New(slog.DiscardHandler),
		flights: make(map[string]*flight),
	}
	for _, o := range opts {
		o(c)
	}
	if c.store == nil {
		c.store = NewMemoryTokenStore()
	}
	return c
}

// AppID returns the appid the client was created for.
func (c *Client) AppID() string { return c.appID }

// request describes one API call.
type request struct {
	method      string
	path        string
	query       url.Values
	rawQuery    string // the encoded query, used instead of query when set
	body        []byte
	contentType string
	auth        bool // needs access_token in the query
}

// newJSONRequest encodes v as the body of a POST without HTML escaping:
// WeChat does not decode \u0026 and friends (protocol §0). A json.RawMessage
// or []byte is sent as is after checking it is JSON.
func newJSONRequest(path string, v any) (*request, error) {
	body, err := Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wechat: %s: %w", path, err)
	}
	return &request{method: http.MethodPost, path: path, body: body,
		contentType: "application/json", auth: true}, nil
}

// Marshal encodes v as WeChat's API takes JSON: UTF-8 without HTML
// escaping, since WeChat shows \u0026 and friends literally (protocol §0).
// A json.RawMessage or []byte is returned trimmed after checking that it is
// a JSON object. Every body miniback sends to WeChat, also those queued for
// later (outbox payloads), is encoded here.
func Marshal(v any) (json.RawMessage, error) {
	switch raw := v.(type) {
	case json.RawMessage:
		return checkRaw(raw)
	case []byte:
		return checkRaw(raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func checkRaw(raw []byte) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, errors.New("request body is not a JSON object")
	}
	return t, nil
}

// response is an HTTP 200 answer read into memory.
type response struct {
	body        []byte
	contentType string
}

// send performs one HTTP request with the per-call timeout, adding token to
// the query when given. Non-200 answers become *HTTPError.
func (c *Client) send(ctx context.Context, r *request, token string, limit int64) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.baseURL + r.path
	switch {
	case token != "":
		q := url.Values{}
		for k, v := range r.query {
			q[k] = v
		}
		q.Set("access_token", token)
		u += "?" + q.Encode()
	case r.rawQuery != "":
		u += "?" + r.rawQuery
	case len(r.query) > 0:
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("wechat: %s: build request: %w", r.path, redactURLError(err))
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &transportError{api: r.path, err: redactURLError(err)}
	}
	defer resp.Body.Close()
	return readResponse(r.path, resp, limit)
}

func readResponse(api string, resp *http.Response, limit int64) (*response, error) {
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{StatusCode: resp.StatusCode, API: api}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &transportError{api: api, err: redactURLError(err)}
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("wechat: %s: answer larger than %d bytes", api, limit)
	}
	return &response{body: b, contentType: resp.Header.Get("Content-Type")}, nil
}

// redactURLError drops the URL from a *url.Error: its query can hold the
// AppSecret or an access token.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// envelope is the error part every JSON answer may carry. A missing errcode
// means success.
type envelope struct {
	ErrCode flex.Int `json:"errcode"`
	ErrMsg  string   `json:"errmsg"`
}

// decodeJSON checks the envelope and then decodes the answer into out (which
// may be nil). Numbers go to json.Number so 64-bit ids keep every digit.
func decodeJSON(api string, body []byte, out any) error {
	if o, ok := out.(enveloped); ok {
		return decodeEnveloped(api, body, o)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return errUnexpected(api, "invalid JSON")
	}
	if env.ErrCode != 0 {
		return &Error{Code: int(env.ErrCode), Msg: env.ErrMsg, API: api}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return errUnexpected(api, err.Error())
	}
	return nil
}

// enveloped is an answer whose struct embeds the envelope, so that its
// body is decoded once. Its fields must not need json.Number.
type enveloped interface{ errEnvelope() *envelope }

func (e *envelope) errEnvelope() *envelope { return e }

// decodeEnveloped is decodeJSON for an answer that embeds its envelope:
// the same errors from one pass over the body.
func decodeEnveloped(api string, body []byte, out enveloped) error {
	err := json.Unmarshal(body, out)
	var typ *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &typ) {
		return errUnexpected(api, "invalid JSON")
	}
	// Unmarshal goes on after a field of the wrong type: the envelope is
	// read either way, and WeChat's error wins, as in decodeJSON.
	if env := out.errEnvelope(); env.ErrCode != 0 {
		return &Error{Code: int(env.ErrCode), Msg: env.ErrMsg, API: api}
	}
	if err != nil {
		return errUnexpected(api, err.Error())
	}
	return nil
}

// callJSON makes an API call answered with JSON, with the token retry when
// the call needs a token.
func (c *Client) callJSON(ctx context.Context, r *request, out any) error {
	if !r.auth {
		return c.roundTripJSON(ctx, r, "", out)
	}
	return c.withToken(ctx, func(ctx context.Context, token string) error {
		return c.roundTripJSON(ctx, r, token, out)
	})
}

// roundTripJSON sends r once and decodes its JSON answer into out.
func (c *Client) roundTripJSON(ctx context.Context, r *request, token string, out any) (err error) {
	start := time.Now()
	defer func() { c.observe(r.path, start, err) }()
	resp, err := c.send(ctx, r, token, maxJSONBytes)
	if err != nil {
		return err
	}
	return decodeJSON(r.path, resp.body, out)
}

// callBinary makes a token-bearing call answered with bytes on success and a
// JSON error body on failure (codes, media). The JSON is recognised by its
// Content-Type or a leading '{', which no image format starts with.
func (c *Client) callBinary(ctx context.Context, r *request) (*response, error) {
	var out *response
	err := c.withToken(ctx, func(ctx context.Context, token string) (err error) {
		out, err = c.roundTripBinary(ctx, r, token)
		return err
	})
	return out, err
}

// roundTripBinary sends r once and returns its bytes, or the error its JSON
// answer holds.
func (c *Client) roundTripBinary(ctx context.Context, r *request, token string) (_ *response, err error) {
	start := time.Now()
	defer func() { c.observe(r.path, start, err) }()
	resp, err := c.send(ctx, r, token, maxMediaBytes)
	if err != nil {
		return nil, err
	}
	if isJSONAnswer(resp) {
		if err := decodeJSON(r.path, resp.body, nil); err != nil {
			return nil, err
		}
		return nil, errUnexpected(r.path, "JSON instead of bytes")
	}
	return resp, nil
}

func isJSONAnswer(r *response) bool {
	if strings.HasPrefix(strings.ToLower(r.contentType), "application/json") {
		return true
	}
	t := bytes.TrimLeft(r.body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
