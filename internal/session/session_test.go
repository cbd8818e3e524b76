package session

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniback/miniback"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newIssuer(t *testing.T) (*Issuer, *clock) {
	t.Helper()
	key, err := LoadOrCreateSigningKey(filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	iss := NewIssuer(key, 15*time.Minute)
	iss.Now = c.now
	return iss, c
}

func TestIssueVerify(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, _, err := iss.Issue("wxa", 42, "sid1")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // second round is served from the cache
		a, err := iss.Verify("wxa", tok)
		if err != nil {
			t.Fatal(err)
		}
		if a.UserID != 42 || a.SessionID != "sid1" || a.AppID != "wxa" || a.TokenID == "" {
			t.Fatalf("auth = %+v", a)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	iss, clk := newIssuer(t)
	good, _, _ := iss.Issue("wxa", 1, "s")
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherIss := NewIssuer(NewSigningKey(other), time.Minute)
	otherIss.Key.ID = iss.Key.ID // same kid, wrong key
	forged, _, _ := otherIss.Issue("wxa", 1, "s")
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"`+iss.Key.ID+`"}`)) + "." + parts[1] + "."
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "wxa", "sub": "1", "sid": "s", "jti": "j", "exp": clk.t.Add(time.Hour).Unix()}).SignedString(iss.Key.Public())
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"2","aud":["wxa"],"sid":"s","jti":"x","exp":9999999999}`)) + "." + parts[2]
	tests := []struct{ name, appid, token string }{
		{"empty", "wxa", ""},
		{"garbage", "wxa", "not.a.jwt"},
		{"alg none", "wxa", none},
		{"hmac with public key", "wxa", hs},
		{"other key same kid", "wxa", forged},
		{"tampered payload", "wxa", tampered},
		{"other appid", "wxb", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iss.Verify(tt.appid, tt.token)
			if miniback.ErrorCode(err) != miniback.ECodeUnauthorized {
				t.Fatalf("err = %v, want unauthorized", err)
			}
		})
	}
}

func TestVerifyExpiryWithLeeway(t *testing.T) {
	iss, clk := newIssuer(t)
	tok, _, _ := iss.Issue("wxa", 1, "s")
	clk.t = clk.t.Add(15*time.Minute + 5*time.Second) // inside the 10 s skew
	if _, err := iss.Verify("wxa", tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.t = clk.t.Add(10 * time.Second)
	if _, err := iss.Verify("wxa", tok); err == nil {
		t.Fatal("expired token accepted (cached path)")
	}
	iss2 := NewIssuer(iss.Key, time.Minute)
	iss2.Now = clk.now
	if _, err := iss2.Verify("wxa", tok); err == nil {
		t.Fatal("expired token accepted (uncached path)")
	}
}

func TestCacheIsBounded(t *testing.T) {
	iss, _ := newIssuer(t)
	iss.cacheSize = 3
	for i := range 10 {
		tok, _, _ := iss.Issue("wxa", int64(i), "s")
		if _, err := iss.Verify("wxa", tok); err != nil {
			t.Fatal(err)
		}
		if len(iss.cache) > 3 {
			t.Fatalf("cache grew to %d", len(iss.cache))
		}
	}
}

func TestSigningKeyPersists(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "k.pem")
	k1, err := LoadOrCreateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID != k2.ID || !k1.Private.Equal(k2.Private) {
		t.Fatal("key not reused")
	}
	set := JWKSOf(k1)
	if len(set.Keys) != 1 || set.Keys[0].Kid != k1.ID || set.Keys[0].Crv != "Ed25519" {
		t.Fatalf("jwks = %+v", set)
	}
}

func TestSealer(t *testing.T) {
	key, err := LoadOrCreateSealKey(filepath.Join(t.TempDir(), "seal.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("sessionkey=="), []byte("user:1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "sessionkey") {
		t.Fatal("plaintext visible in sealed form")
	}
	if got, err := s.Open(sealed, []byte("user:1")); err != nil || string(got) != "sessionkey==" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("user:2")); err == nil {
		t.Fatal("opened with another user's binding")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open(sealed, []byte("user:1")); err == nil {
		t.Fatal("tampered value opened")
	}
	if _, err := s.Open([]byte{1, 2}, nil); err == nil {
		t.Fatal("short value opened")
	}
}

func TestRefreshToken(t *testing.T) {
	a, ha := NewRefreshToken("wxa")
	b, _ := NewRefreshToken("wxa")
	if a == b || len(a) < 40 || string(HashRefreshToken("wxa", a)) != string(ha) {
		t.Fatal("refresh tokens not random or hash unstable")
	}
	if string(HashRefreshToken("wxb", a)) == string(ha) {
		t.Fatal("hash does not depend on the appid")
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	iss := NewIssuer(NewSigningKey(priv), time.Hour)
	tok, _, _ := iss.Issue("wxa", 1, "s")
	b.ReportAllocs()
	for b.Loop() {
		iss.cache = map[string]verified{}
		if _, err := iss.Verify("wxa", tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	iss := NewIssuer(NewSigningKey(priv), time.Hour)
	tok, _, _ := iss.Issue("wxa", 1, "s")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify("wxa", tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssue is one access token as a login or refresh signs it
// (golang-jwt, Ed25519); the HS256 case signs the same claims as
// ../shared/bench/peer does, for comparison only: SPEC §4 promises Ed25519
// tokens that other services verify through the JWKS.
func BenchmarkIssue(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	iss := NewIssuer(NewSigningKey(priv), 15*time.Minute)
	b.Run("EdDSA", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := iss.Issue("wx8d0e5a6b4c3f2a10", 123456, "0123456789abcdef0123456789abcdef"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("HS256", func(b *testing.B) {
		secret := []byte("peer-hs256-secret-0123456789abcdef")
		b.ReportAllocs()
		for b.Loop() {
			now := time.Now().Truncate(time.Second)
			claims := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "123456", Audience: jwt.ClaimStrings{"wx8d0e5a6b4c3f2a10"},
				ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomID()},
				SessionID: "0123456789abcdef0123456789abcdef"}
			if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNewSessionID checks the id's form (32 hex digits), that ids made at
// later times sort after earlier ones, so that new sessions append to the
// primary-key index, and that ids of the same millisecond still differ.
func TestNewSessionID(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		at := t0.Add(time.Duration(i/4) * time.Millisecond) // four ids per millisecond
		id := NewSessionID(at)
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if ms, _ := strconv.ParseUint(id[:12], 16, 64); int64(ms) != at.UnixMilli() {
			t.Fatalf("id %q: time prefix %d, want %d", id, ms, at.UnixMilli())
		}
		if i%4 == 0 && id < prev {
			t.Fatalf("id %q of a later millisecond sorts before %q", id, prev)
		}
		prev = id
	}
}
