package wechatpay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultBaseURL is WeChat Pay's API host.
const DefaultBaseURL = "https://api.mch.weixin.qq.com"

// UserAgent is sent on every request; WeChat Pay refuses requests without one.
const UserAgent = "miniback-wechatpay/1"

const maxAnswerBytes = 1 << 20

// Client calls WeChat Pay API v3 for one merchant. Every request is signed
// with the merchant key and every answer, success or error, is
// signature-checked before it is believed: an unsigned or wrongly signed
// 2xx is an error wrapping ErrSignature. It is safe for concurrent use;
// create it with NewClient.
type Client struct {
	mchID    string
	serialNo string
	key      *rsa.PrivateKey
	apiV3Key []byte
	baseURL  string
	hc       *http.Client
	timeout  time.Duration
	retries  int
	backoff  time.Duration
	now      func() time.Time
	verifier *Verifier
	acceptID string // the public key id, sent as Wechatpay-Serial
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL sets the API host (a sandbox, a proxy); a trailing slash is ignored.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient sets the HTTP client; nil is ignored.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithTimeout bounds each HTTP attempt; default 10 s.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a transient failure (SYSTEM_ERROR,
// BANK_ERROR, 5xx, timeouts, network errors) is retried with the very same
// body; default 2. Every endpoint of this package is idempotent on the
// merchant's numbers, so a retry cannot pay or refund twice.
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = max(n, 0), backoff }
}

// WithClock sets the clock used for signing and verifying; default time.Now.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithPublicKey trusts the WeChat Pay public key under its id
// (PUB_KEY_ID_…) and asks WeChat Pay to sign answers with it.
func WithPublicKey(id string, pub *rsa.PublicKey) Option {
	return func(c *Client) {
		c.verifier.AddPublicKey(id, pub)
		c.acceptID = id
	}
}

// NewClient returns a Client for merchant mchID whose API certificate has
// serial serialNo and private key key (RSA 2048), with the 32-byte APIv3
// key. Without WithPublicKey, answers can only be verified once platform
// certificates were fetched with RefreshCertificates (the Verifier also
// fetches them by itself on an unknown serial).
func NewClient(mchID, serialNo string, key *rsa.PrivateKey, apiV3Key []byte, opts ...Option) (*Client, error) {
	switch {
	case mchID == "" || serialNo == "":
		return nil, errors.New("wechatpay: mchid and serial_no are required")
	case key == nil || key.N.BitLen() != 2048:
		return nil, errors.New("wechatpay: the merchant key must be RSA 2048")
	}
	if err := CheckAPIv3Key(apiV3Key); err != nil {
		return nil, err
	}
	c := &Client{
		mchID: mchID, serialNo: serialNo, key: key, apiV3Key: apiV3Key,
		baseURL: DefaultBaseURL, hc: &http.Client{}, timeout: 10 * time.Second,
		retries: 2, backoff: 200 * time.Millisecond, now: time.Now,
		verifier: &Verifier{},
	}
	c.verifier.Refresh = c.RefreshCertificates
	for _, o := range opts {
		o(c)
	}
	c.verifier.Now = c.now
	return c, nil
}

// MchID returns the merchant id.
func (c *Client) MchID() string { return c.mchID }

// Verifier returns the verifier of answers and notifications, holding the
// public key and the platform certificates.
func (c *Client) Verifier() *Verifier { return c.verifier }

// APIv3Key returns the key that opens notifications and certificates.
func (c *Client) APIv3Key() []byte { return c.apiV3Key }

// ParseNotification verifies, decodes and decrypts a notification received
// by the merchant (see the package-level ParseNotification).
func (c *Client) ParseNotification(ctx context.Context, header http.Header, body []byte) (*Notification, error) {
	return ParseNotification(ctx, c.verifier, c.apiV3Key, header, body)
}

// RequestPayment returns the signed arguments of wx.requestPayment for
// prepayID, for the mini program appID used at prepay.
func (c *Client) RequestPayment(appID, prepayID string) (*PayParams, error) {
	return SignPayment(c.key, appID, prepayID, c.now().Unix(), NewNonce())
}

// do sends one API call with in (nil for no body) marshalled once and
// retried byte for byte on transient failures, and decodes a verified 2xx
// answer into out (nil to ignore it).
func (c *Client) do(ctx context.Context, method, pathQuery string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("wechatpay: %s %s: %w", method, pathQuery, err)
		}
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = c.once(ctx, method, pathQuery, body, out)
		if err == nil || attempt >= c.retries || !IsTransient(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(c.backoff << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, method, pathQuery string, body []byte, out any) error {
	api := method + " " + strings.SplitN(pathQuery, "?", 2)[0]
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, pathQuery, body)
	if err != nil {
		return fmt.Errorf("wechatpay: %s: %w", api, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("wechatpay: %s: %w", api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("wechatpay: %s: read answer: %w", api, err)
	}
	return c.answer(ctx, api, resp, raw, out)
}

// newRequest builds a signed request. The string signed holds the path
// and query exactly as they go on the wire.
func (c *Client) newRequest(ctx context.Context, method, pathQuery string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+pathQuery, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	auth := Authorization{MchID: c.mchID, NonceStr: NewNonce(), Timestamp: c.now().Unix(), SerialNo: c.serialNo}
	sig, err := Sign(c.key, RequestMessage(method, req.URL.RequestURI(), auth.Timestamp, auth.NonceStr, body))
	if err != nil {
		return nil, err
	}
	auth.Signature = sig
	req.Header.Set("Authorization", auth.String())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.acceptID != "" {
		// Asks WeChat Pay to sign the answer with the public key.
		req.Header.Set("Wechatpay-Serial", c.acceptID)
	}
	return req, nil
}

// answer verifies an answer and turns it into out or an *Error. Error
// answers are verified too; one that fails (a proxy's 502, a 401 from a
// front end) is still an error, marked Unverified: an error can only stop
// the caller, never make it believe in a payment.
func (c *Client) answer(ctx context.Context, api string, resp *http.Response, raw []byte, out any) error {
	h, herr := HeadersFrom(resp.Header)
	verr := herr
	if herr == nil {
		verr = c.verifier.Verify(ctx, h, raw)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && verr != nil {
		return fmt.Errorf("wechatpay: %s: answer %d not trusted: %w", api, resp.StatusCode, verr)
	}
	if !ok {
		e := &Error{StatusCode: resp.StatusCode, API: api, RequestID: resp.Header.Get("Request-ID"), Unverified: verr != nil}
		var body struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		}
		_ = json.Unmarshal(raw, &body) // a malformed error body leaves Code empty
		e.Code, e.Message, e.Detail = body.Code, body.Message, body.Detail
		return e
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("wechatpay: %s: decode answer: %w", api, err)
	}
	return nil
}
