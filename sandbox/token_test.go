package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		query url.Values
		want  int
	}{
		{"bad grant_type", url.Values{"grant_type": {"x"}, "appid": {app1}, "secret": {secret1}}, 40002},
		{"unknown appid", url.Values{"grant_type": {"client_credential"}, "appid": {"wxnope"}, "secret": {secret1}}, 40013},
		{"wrong secret", url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret2}}, 40125},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.get("/cgi-bin/token", c.query)
			wantErrcode(t, r, c.want)
			if !strings.Contains(r.str("errmsg"), "rid: ") {
				t.Errorf("errmsg %q has no rid", r.str("errmsg"))
			}
		})
	}
	r := e.do(http.MethodPost, "/cgi-bin/token", url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}}, "", nil)
	wantErrcode(t, r, 43001)
}

func TestTokenSuccessAndAuthErrors(t *testing.T) {
	e := newEnv(t)
	r := e.get("/cgi-bin/token", url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}})
	if r.str("access_token") == "" || r.M["expires_in"].(interface{ String() string }).String() != "7200" {
		t.Fatalf("token response %s", r.Body)
	}
	if _, ok := r.M["errcode"]; ok {
		t.Errorf("token success has errcode: %s", r.Body)
	}
	tok := r.str("access_token")
	if got := e.probe(tok); got != 87008 {
		t.Fatalf("fresh token: errcode %d", got)
	}
	wantErrcode(t, e.get("/wxa/checksession", url.Values{"sig_method": {"none"}}), 41001)
	if got := e.probe("garbage"); got != 40001 {
		t.Errorf("garbage token: errcode %d, want 40001", got)
	}
	e.clk.Advance(7200 * time.Second)
	if got := e.probe(tok); got != 42001 {
		t.Errorf("expired token: errcode %d, want 42001", got)
	}
}

func TestClassicTokenRotation(t *testing.T) {
	e := newEnv(t)
	first := e.token(app1, secret1)
	e.clk.Advance(time.Minute)
	second := e.token(app1, secret1)
	if first == second {
		t.Fatal("every /cgi-bin/token call must issue a new token")
	}
	e.clk.Advance(5*time.Minute - time.Second)
	if got := e.probe(first); got != 87008 {
		t.Fatalf("old token inside handover: errcode %d", got)
	}
	e.clk.Advance(time.Second)
	if got := e.probe(first); got != 40001 {
		t.Fatalf("old token after handover: errcode %d, want 40001", got)
	}
	if got := e.probe(second); got != 87008 {
		t.Fatalf("new token: errcode %d", got)
	}
	// A third token shortens second's life but leaves first dead.
	third := e.token(app1, secret1)
	e.clk.Advance(5 * time.Minute)
	if e.probe(second) != 40001 || e.probe(third) != 87008 {
		t.Fatal("second should have died 5 minutes after third was issued")
	}
}

// stable calls /cgi-bin/stable_token and returns token and expires_in.
func (e *env) stable(force bool) result {
	e.t.Helper()
	return e.post("/cgi-bin/stable_token", nil, map[string]any{
		"grant_type": "client_credential", "appid": app1, "secret": secret1, "force_refresh": force,
	})
}

func expiresIn(t *testing.T, r result) int64 {
	t.Helper()
	n, err := r.M["expires_in"].(interface{ Int64() (int64, error) }).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStableTokenNormalMode(t *testing.T) {
	e := newEnv(t)
	a := e.stable(false)
	tokA := a.str("access_token")
	if tokA == "" || expiresIn(t, a) != 7200 {
		t.Fatalf("stable: %s", a.Body)
	}
	e.clk.Advance(time.Hour)
	b := e.stable(false)
	if b.str("access_token") != tokA || expiresIn(t, b) != 3600 {
		t.Fatalf("normal mode must return the same token with the remaining life: %s", b.Body)
	}
	// The classic endpoint does not disturb the stable token.
	e.token(app1, secret1)
	e.token(app1, secret1)
	if e.probe(tokA) != 87008 {
		t.Fatal("classic token fetch invalidated the stable token")
	}
	e.clk.Advance(time.Hour - 5*time.Minute) // 300 s left
	c := e.stable(false)
	tokC := c.str("access_token")
	if tokC == tokA || expiresIn(t, c) != 7200 {
		t.Fatalf("in the last 5 minutes a new token is due: %s", c.Body)
	}
	e.clk.Advance(5*time.Minute - time.Second)
	if e.probe(tokA) != 87008 {
		t.Fatal("old stable token must stay valid until its expiry")
	}
	e.clk.Advance(time.Second)
	if got := e.probe(tokA); got != 42001 {
		t.Fatalf("old stable token after expiry: %d", got)
	}
	if d := e.stable(false); d.str("access_token") != tokC || expiresIn(t, d) < 300 {
		t.Fatalf("stable after rotation: %s", d.Body)
	}
}

func TestStableTokenForceRefresh(t *testing.T) {
	e := newEnv(t)
	tokA := e.stable(false).str("access_token")
	tokB := e.stable(true).str("access_token")
	if tokB == tokA || tokB == "" {
		t.Fatal("force_refresh must issue a new token")
	}
	if got := e.probe(tokA); got != 40001 {
		t.Fatalf("force_refresh must invalidate the previous token at once: %d", got)
	}
	e.clk.Advance(29 * time.Second)
	if got := e.stable(true).str("access_token"); got != tokB {
		t.Fatal("a forced call within 30 s must not refresh")
	}
	e.clk.Advance(time.Second)
	if got := e.stable(true).str("access_token"); got == tokB {
		t.Fatal("a forced call 30 s later must refresh")
	}
	for i := 2; i < maxForcePerDay; i++ {
		e.clk.Advance(30 * time.Second)
		if tok := e.stable(true).str("access_token"); tok == "" {
			t.Fatalf("forced refresh %d failed", i+1)
		}
	}
	e.clk.Advance(30 * time.Second)
	wantErrcode(t, e.stable(true), 45009)
	e.clk.Advance(24 * time.Hour)
	if tok := e.stable(true).str("access_token"); tok == "" {
		t.Fatal("the quota must reset the next day")
	}
}

func TestStableTokenBadRequests(t *testing.T) {
	e := newEnv(t)
	form := url.Values{"grant_type": {"client_credential"}, "appid": {app1}, "secret": {secret1}}.Encode()
	wantErrcode(t, e.do(http.MethodPost, "/cgi-bin/stable_token", nil, "application/x-www-form-urlencoded", []byte(form)), 41002)
	wantErrcode(t, e.do(http.MethodGet, "/cgi-bin/stable_token", nil, "", nil), 43002)
	cases := []struct {
		name string
		body map[string]any
		want int
	}{
		{"grant_type", map[string]any{"grant_type": "x", "appid": app1, "secret": secret1}, 40002},
		{"appid", map[string]any{"grant_type": "client_credential", "appid": "wxnope", "secret": secret1}, 40013},
		{"secret", map[string]any{"grant_type": "client_credential", "appid": app1, "secret": "no"}, 40125},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrcode(t, e.post("/cgi-bin/stable_token", nil, c.body), c.want)
		})
	}
}
