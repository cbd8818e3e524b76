package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniback/miniback"
)

// Leeway is the clock skew tolerated on token expiry (SPEC §4).
const Leeway = 10 * time.Second

// defaultCacheSize bounds the verified-token cache.
const defaultCacheSize = 50_000

// Claims are the claims of an access token: SPEC §4's registered claims
// plus sid, the session the token belongs to (checked for revocation).
type Claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// Issuer signs and verifies access tokens. Verification results are kept in
// a bounded per-instance cache, because an Ed25519 verify costs more than the
// rest of a request; the revocation check is the caller's and runs every
// time. Safe for concurrent use.
type Issuer struct {
	Key       *SigningKey
	AccessTTL time.Duration
	Now       func() time.Time

	mu        sync.RWMutex
	cache     map[string]verified
	cacheSize int
	header    atomic.Pointer[header] // headerSegment's, for Key
}

// verified is a cached verification result: who the token names, and its expiry.
type verified struct {
	auth miniback.Auth
	exp  time.Time
}

// NewIssuer returns an Issuer signing with key.
func NewIssuer(key *SigningKey, accessTTL time.Duration) *Issuer {
	return &Issuer{Key: key, AccessTTL: accessTTL, Now: time.Now, cacheSize: defaultCacheSize,
		cache: map[string]verified{}}
}

// Issue signs an access token for the user's session in appid.
//
// The token is written out directly rather than through golang-jwt's
// map-based header and reflection-encoded claims: one buffer, the header
// segment encoded once per key. Its bytes are those golang-jwt would produce
// for the same claims (see TestIssueMatchesJWTLibrary); Verify still parses
// with golang-jwt.
func (i *Issuer) Issue(appid string, userID int64, sessionID string) (token string, expiresAt time.Time, err error) {
	now := i.Now().Truncate(time.Second)
	expiresAt = now.Add(i.AccessTTL)
	return i.issue(appid, userID, sessionID, randomID(), now, expiresAt)
}

func (i *Issuer) issue(appid string, userID int64, sessionID, jti string, now, expiresAt time.Time) (string, time.Time, error) {
	if i.Key == nil || len(i.Key.Private) != ed25519.PrivateKeySize {
		return "", time.Time{}, errors.New("session: sign access token: no Ed25519 private key")
	}
	var scratch [256]byte
	claims := scratch[:0]
	claims = append(claims, `{"sub":"`...)
	claims = strconv.AppendInt(claims, userID, 10)
	claims = append(claims, `","aud":[`...)
	claims = appendJSONString(claims, appid)
	claims = append(claims, `],"exp":`...)
	claims = strconv.AppendInt(claims, expiresAt.Unix(), 10)
	claims = append(claims, `,"iat":`...)
	claims = strconv.AppendInt(claims, now.Unix(), 10)
	claims = append(claims, `,"jti":`...)
	claims = appendJSONString(claims, jti)
	claims = append(claims, `,"sid":`...)
	claims = appendJSONString(claims, sessionID)
	claims = append(claims, '}')

	head := i.headerSegment()
	enc := base64.RawURLEncoding
	n := len(head) + 1 + enc.EncodedLen(len(claims))
	out := make([]byte, 0, n+1+enc.EncodedLen(ed25519.SignatureSize))
	out = append(out, head...)
	out = append(out, '.')
	out = enc.AppendEncode(out, claims)
	sig := ed25519.Sign(i.Key.Private, out[:n])
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), expiresAt, nil
}

// headerSegment is the encoded JOSE header of the issuer's key,
// {"alg":"EdDSA","kid":…,"typ":"JWT"} as golang-jwt writes it (map keys
// sorted), computed once per key.
func (i *Issuer) headerSegment() string {
	k := i.Key
	if h := i.header.Load(); h != nil && h.key == k {
		return h.segment
	}
	b := []byte(`{"alg":"EdDSA","kid":`)
	b = appendJSONString(b, k.ID)
	b = append(b, `,"typ":"JWT"}`...)
	h := &header{key: k, segment: base64.RawURLEncoding.EncodeToString(b)}
	i.header.Store(h)
	return h.segment
}

// header is an encoded JOSE header and the key it names.
type header struct {
	key     *SigningKey
	segment string
}

// appendJSONString appends s as a JSON string exactly as encoding/json's
// Marshal writes it (HTML characters escaped too, as golang-jwt leaves on).
func appendJSONString(b []byte, s string) []byte {
	for j := 0; j < len(s); j++ {
		if c := s[j]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Verify checks the token's signature, algorithm, key id, audience (appid)
// and expiry, and returns who it names. Any failure is an Error with code
// unauthorized that does not say which check failed.
func (i *Issuer) Verify(appid, token string) (*miniback.Auth, error) {
	now := i.Now()
	i.mu.RLock()
	v, hit := i.cache[token]
	i.mu.RUnlock()
	if hit {
		if v.auth.AppID != appid || !now.Before(v.exp.Add(Leeway)) {
			return nil, unauthorized(nil)
		}
		return &v.auth, nil
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, i.keyFunc,
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(appid), jwt.WithLeeway(Leeway), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(i.Now))
	if err != nil {
		return nil, unauthorized(err)
	}
	uid, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || c.SessionID == "" || c.ID == "" {
		return nil, unauthorized(err)
	}
	a := miniback.Auth{AppID: appid, UserID: uid, SessionID: c.SessionID, TokenID: c.ID}
	i.remember(token, a, c.ExpiresAt.Time)
	return &a, nil
}

func (i *Issuer) keyFunc(t *jwt.Token) (any, error) {
	if kid, _ := t.Header["kid"].(string); kid != i.Key.ID {
		return nil, fmt.Errorf("unknown kid")
	}
	return i.Key.Public(), nil
}

// remember caches a verified token. When the cache is full it is emptied:
// simple, bounded, and a miss only costs one verify.
func (i *Issuer) remember(token string, a miniback.Auth, exp time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(i.cache) >= i.cacheSize {
		clear(i.cache)
	}
	i.cache[token] = verified{auth: a, exp: exp}
}

func unauthorized(err error) error {
	return miniback.WrapError(miniback.ECodeUnauthorized, "the access token is missing, invalid, expired or revoked", err)
}

// NewRefreshToken returns a fresh opaque refresh token for appid and the
// hash to store.
func NewRefreshToken(appid string) (token string, hash []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(appid, token)
}

// HashRefreshToken returns the stored form of a refresh token. The appid is
// part of the hash, so a token presented to another app matches nothing.
func HashRefreshToken(appid, token string) []byte {
	h := sha256.New()
	h.Write([]byte(appid))
	h.Write([]byte{0})
	h.Write([]byte(token))
	return h.Sum(nil)
}

// NewSessionID returns a random session id.
func NewSessionID() string { return randomID() }

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
