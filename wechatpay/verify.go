package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrSignature is wrapped by every verification failure: a missing or
// malformed Wechatpay-* header, a stale timestamp, an unknown serial, a
// signature that does not match (WECHATPAY/SIGNTEST/ probes included).
var ErrSignature = errors.New("wechatpay: signature verification failed")

// MaxSkew is how far a Wechatpay-Timestamp may be from the verifier's
// clock, in either direction, before the message is refused as a replay.
const MaxSkew = 5 * time.Minute

// PublicKeyIDPrefix starts the Wechatpay-Serial of messages signed with
// the WeChat Pay public key rather than a platform certificate.
const PublicKeyIDPrefix = "PUB_KEY_ID_"

// Headers are the Wechatpay-* headers of a signed response or notification.
type Headers struct {
	Timestamp     string
	Nonce         string
	Signature     string
	Serial        string
	SignatureType string // "" is taken as SchemeRSA
}

// HeadersFrom reads the Wechatpay-* headers of h. A missing timestamp,
// nonce, signature or serial, or a timestamp that is not 1-10 decimal
// digits, is an error wrapping ErrSignature.
func HeadersFrom(h http.Header) (Headers, error) {
	hs := Headers{
		Timestamp:     h.Get("Wechatpay-Timestamp"),
		Nonce:         h.Get("Wechatpay-Nonce"),
		Signature:     h.Get("Wechatpay-Signature"),
		Serial:        h.Get("Wechatpay-Serial"),
		SignatureType: h.Get("Wechatpay-Signature-Type"),
	}
	switch {
	case hs.Timestamp == "" || hs.Nonce == "" || hs.Signature == "" || hs.Serial == "":
		return hs, fmt.Errorf("%w: a Wechatpay-Timestamp, -Nonce, -Signature or -Serial header is missing", ErrSignature)
	case len(hs.Timestamp) > 10 || strings.TrimLeft(hs.Timestamp, "0123456789") != "":
		return hs, fmt.Errorf("%w: Wechatpay-Timestamp is not unix seconds", ErrSignature)
	case hs.SignatureType != "" && hs.SignatureType != SchemeRSA:
		return hs, fmt.Errorf("%w: unsupported Wechatpay-Signature-Type", ErrSignature)
	}
	return hs, nil
}

// Verifier checks WeChat Pay's signatures with every key it holds at once:
// platform certificates by serial and the WeChat Pay public key by its id,
// chosen by Wechatpay-Serial, so both keep working during WeChat Pay's
// migration from one to the other. An unknown serial makes it call Refresh
// (when set) once, single-flight and at most once per MinRefreshInterval, then
// look again. It is safe for concurrent use.
type Verifier struct {
	// Now is the clock of the 5-minute rule; default time.Now.
	Now func() time.Time
	// Refresh fetches platform certificates (see Client.RefreshCertificates);
	// nil disables refreshing on an unknown serial.
	Refresh func(ctx context.Context) error
	// MinRefreshInterval spaces refreshes caused by unknown serials;
	// default one minute.
	MinRefreshInterval time.Duration

	mu          sync.RWMutex
	keys        map[string]verifyKey
	lastRefresh time.Time
	inflight    chan struct{}
}

type verifyKey struct {
	pub     *rsa.PublicKey
	expires time.Time // zero: never (public keys)
}

// AddPublicKey trusts pub under its id (PUB_KEY_ID_…); it never expires.
func (v *Verifier) AddPublicKey(id string, pub *rsa.PublicKey) {
	v.add(id, verifyKey{pub: pub})
}

// AddCertificate trusts a platform certificate's key under serial until
// notAfter. Certificates are kept side by side, so the old and the new
// keep verifying across a rotation.
func (v *Verifier) AddCertificate(serial string, pub *rsa.PublicKey, notAfter time.Time) {
	v.add(serial, verifyKey{pub: pub, expires: notAfter})
}

func (v *Verifier) add(serial string, k verifyKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil {
		v.keys = map[string]verifyKey{}
	}
	v.keys[serial] = k
}

// Serials returns the serials and key ids currently trusted.
func (v *Verifier) Serials() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]string, 0, len(v.keys))
	for s := range v.keys {
		out = append(out, s)
	}
	return out
}

// HasCertificates reports whether any platform certificate is trusted.
func (v *Verifier) HasCertificates() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for s := range v.keys {
		if !strings.HasPrefix(s, PublicKeyIDPrefix) {
			return true
		}
	}
	return false
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks that h signs body: the timestamp is within MaxSkew of the
// clock, the serial names a trusted, unexpired key (after one refresh if it
// did not), and the signature matches. Every failure wraps ErrSignature;
// a WECHATPAY/SIGNTEST/ probe fails like any other wrong signature.
func (v *Verifier) Verify(ctx context.Context, h Headers, body []byte) error {
	ts, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: Wechatpay-Timestamp is not unix seconds", ErrSignature)
	}
	if skew := v.now().Sub(time.Unix(ts, 0)); skew >= MaxSkew || skew <= -MaxSkew {
		return fmt.Errorf("%w: Wechatpay-Timestamp is %s away from this clock", ErrSignature, skew.Round(time.Second))
	}
	pub, err := v.key(ctx, h.Serial)
	if err != nil {
		return err
	}
	return VerifySignature(pub, ResponseMessage(h.Timestamp, h.Nonce, body), h.Signature)
}

// key returns the key for serial, refreshing once if it is unknown.
func (v *Verifier) key(ctx context.Context, serial string) (*rsa.PublicKey, error) {
	if pub := v.lookup(serial); pub != nil {
		return pub, nil
	}
	if v.Refresh != nil && !strings.HasPrefix(serial, PublicKeyIDPrefix) {
		if err := v.refreshOnce(ctx); err != nil {
			return nil, fmt.Errorf("%w: unknown Wechatpay-Serial and the certificate refresh failed: %w", ErrSignature, err)
		}
		if pub := v.lookup(serial); pub != nil {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown Wechatpay-Serial %q", ErrSignature, trim(serial, 64))
}

func (v *Verifier) lookup(serial string) *rsa.PublicKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok := v.keys[serial]
	if !ok || (!k.expires.IsZero() && !v.now().Before(k.expires)) {
		return nil
	}
	return k.pub
}

// refreshOnce runs Refresh unless one ran within MinRefreshInterval; calls
// that arrive while one runs wait for it instead of starting another.
func (v *Verifier) refreshOnce(ctx context.Context) error {
	v.mu.Lock()
	if ch := v.inflight; ch != nil {
		v.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	every := v.MinRefreshInterval
	if every <= 0 {
		every = time.Minute
	}
	if !v.lastRefresh.IsZero() && v.now().Sub(v.lastRefresh) < every {
		v.mu.Unlock()
		return errors.New("refreshed less than a minute ago")
	}
	ch := make(chan struct{})
	v.inflight, v.lastRefresh = ch, v.now()
	v.mu.Unlock()
	err := v.Refresh(ctx)
	v.mu.Lock()
	v.inflight = nil
	v.mu.Unlock()
	close(ch)
	return err
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
