package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
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
func (i *Issuer) Issue(appid string, userID int64, sessionID string) (token string, expiresAt time.Time, err error) {
	now := i.Now().Truncate(time.Second)
	expiresAt = now.Add(i.AccessTTL)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{appid},
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        randomID(),
		},
		SessionID: sessionID,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = i.Key.ID
	token, err = t.SignedString(i.Key.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session: sign access token: %w", err)
	}
	return token, expiresAt, nil
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

// NewSessionID returns a new session id at now: 32 hex digits, the first 12
// the unix milliseconds, the other 20 random (80 bits). Ids made one after
// the other sort in time, so a login adds its session at the end of the
// sessions' primary-key index instead of at a random leaf (one page fewer
// written per login, and fewer read back). The id is not a secret: it
// names a session in tokens, which are signed, and in the admin API.
func NewSessionID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
