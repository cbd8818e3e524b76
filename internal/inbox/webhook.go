package inbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/push"
)

// Webhook headers. The signature is "sha256=" + hex(HMAC-SHA256(secret,
// timestamp + "." + body)); receivers should recompute it in constant time
// and reject stale timestamps. Delivery is the inbox id: the same for every
// retry and every re-run, so receivers can dedupe.
const (
	HeaderTimestamp = "X-Miniback-Timestamp"
	HeaderSignature = "X-Miniback-Signature"
	HeaderDelivery  = "X-Miniback-Delivery"
)

// WebhookOptions tunes the built-in webhook handler. Zero fields take the
// defaults.
type WebhookOptions struct {
	// Client sends the posts; default a client with a 10 s timeout. Its
	// redirects are never followed, whatever its CheckRedirect says: the
	// signed body goes only to the configured URL, and a 3xx is a
	// permanent failure.
	Client    *http.Client
	Attempts  int              // tries in total, default 5
	BaseDelay time.Duration    // first backoff, doubled per retry, default 1 s
	MaxDelay  time.Duration    // backoff cap, default 1 min
	Now       func() time.Time // stamps X-Miniback-Timestamp, default time.Now
	// Sleep waits between tries; default a timer that stops with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o WebhookOptions) withDefaults() WebhookOptions {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WebhookBody is the JSON the webhook handler posts.
type WebhookBody struct {
	AppID   string          `json:"appid"`
	InboxID int64           `json:"inbox_id"`
	Message json.RawMessage `json:"message"` // the push's Fields
}

// SignWebhook returns the X-Miniback-Signature value for body sent at
// timestamp (decimal unix seconds).
func SignWebhook(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookHandler is the built-in "webhook".
type webhookHandler struct {
	url    string
	secret []byte
	opts   WebhookOptions
}

// errPermanent marks an answer that a retry will not change.
var errPermanent = errors.New("permanent")

func (h *webhookHandler) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	body, err := json.Marshal(WebhookBody{AppID: in.AppID, InboxID: in.ID, Message: m.Fields})
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	for try := 1; ; try++ {
		err = h.post(ctx, in.ID, body)
		if err == nil || errors.Is(err, errPermanent) || try >= h.opts.Attempts {
			break
		}
		if serr := h.opts.Sleep(ctx, h.backoff(try)); serr != nil {
			return fmt.Errorf("webhook: %w (after %w)", serr, err)
		}
	}
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// backoff is BaseDelay·2^(try-1), capped, with "equal jitter": half fixed,
// half random, so that retries of many messages spread out.
func (h *webhookHandler) backoff(try int) time.Duration {
	d := h.opts.BaseDelay << min(try-1, 30)
	if d <= 0 || d > h.opts.MaxDelay {
		d = h.opts.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// post makes one try. It returns nil on 2xx, an error wrapping
// errPermanent on other 4xx (except 429) and 3xx, and a retryable error on
// network errors, 429 and 5xx.
func (h *webhookHandler) post(ctx context.Context, inboxID int64, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", errPermanent, err)
	}
	ts := strconv.FormatInt(h.opts.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, SignWebhook(h.secret, ts, body))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(inboxID, 10))
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		// The URL may carry a token and this error is stored in the inbox
		// row: keep the operation and cause, drop the URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	default:
		return fmt.Errorf("%w: receiver answered %d", errPermanent, resp.StatusCode)
	}
}
