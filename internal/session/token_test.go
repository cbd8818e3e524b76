package session

import (
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// libraryToken is the token golang-jwt signs for the same claims: what
// Issue wrote before it encoded tokens itself.
func libraryToken(t *testing.T, k *SigningKey, appid string, userID int64, sid, jti string, now, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{appid},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		SessionID: sid,
	})
	tok.Header["kid"] = k.ID
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueMatchesJWTLibrary(t *testing.T) {
	iss, clk := newIssuer(t)
	now := clk.t
	exp := now.Add(iss.AccessTTL)
	for _, tt := range []struct {
		name, appid, sid, jti string
		user                  int64
	}{
		{"usual", "wx8d0e5a6b4c3f2a10", "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", 42},
		{"large id", "wxa", "s", "j", 1<<62 + 5},
		{"negative id", "wxa", "s", "j", -3},
		{"escapes", "wx\"<a>&\\\n\u00e9\u2028", "s\"1", "j<", 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, gotExp, err := iss.issue(tt.appid, tt.user, tt.sid, tt.jti, now, exp)
			if err != nil {
				t.Fatal(err)
			}
			// Ed25519 signatures are deterministic: equal bytes in, equal token out.
			if want := libraryToken(t, iss.Key, tt.appid, tt.user, tt.sid, tt.jti, now, exp); got != want {
				t.Fatalf("token\n got %s\nwant %s", got, want)
			}
			if !gotExp.Equal(exp) {
				t.Fatalf("expiry %v, want %v", gotExp, exp)
			}
		})
	}
}

func TestIssueAfterKeyChange(t *testing.T) {
	iss, _ := newIssuer(t)
	if _, _, err := iss.Issue("wxa", 1, "s"); err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreateSigningKey(t.TempDir() + "/k2.pem")
	if err != nil {
		t.Fatal(err)
	}
	iss.Key = other // the header segment names the new kid
	tok, _, err := iss.Issue("wxa", 1, "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify("wxa", tok); err != nil {
		t.Fatalf("token signed after the key changed: %v", err)
	}
}

func TestIssueWithoutKey(t *testing.T) {
	iss := NewIssuer(&SigningKey{ID: "k"}, time.Minute)
	if _, _, err := iss.Issue("wxa", 1, "s"); err == nil {
		t.Fatal("issued a token without a private key")
	}
}

// BenchmarkIssue is one access token: claims, Ed25519 signature, encoding.
func BenchmarkIssue(b *testing.B) {
	key, err := LoadOrCreateSigningKey(b.TempDir() + "/k.pem")
	if err != nil {
		b.Fatal(err)
	}
	iss := NewIssuer(key, 15*time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := iss.Issue("wx8d0e5a6b4c3f2a10", 123456, "0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}
