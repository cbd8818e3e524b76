package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func code2session(appid, secret, code string) url.Values {
	return url.Values{"appid": {appid}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
}

func TestJSCode2Session(t *testing.T) {
	e := newEnv(t)
	code, err := e.s.Login(app1, "oUser1")
	if err != nil {
		t.Fatal(err)
	}
	r := e.get("/sns/jscode2session", code2session(app1, secret1, code))
	if r.str("openid") != "oUser1" || len(r.str("session_key")) != 24 {
		t.Fatalf("success body %s", r.Body)
	}
	for _, k := range []string{"errcode", "errmsg", "unionid"} {
		if _, ok := r.M[k]; ok {
			t.Errorf("success body has %q: %s", k, r.Body)
		}
	}
	wantErrcode(t, e.get("/sns/jscode2session", code2session(app1, secret1, code)), 40163)
}

func TestJSCode2SessionErrors(t *testing.T) {
	e := newEnv(t)
	code, _ := e.s.Login(app1, "")
	cases := []struct {
		name  string
		query url.Values
		want  int
	}{
		{"unknown appid", code2session("wxnope", secret1, code), 40013},
		{"wrong secret", code2session(app1, "nope", code), 40125},
		{"grant_type", url.Values{"appid": {app1}, "secret": {secret1}, "js_code": {code}, "grant_type": {"client_credential"}}, 40002},
		{"unknown code", code2session(app1, secret1, "nope"), 40029},
		{"other app's code", code2session(app2, secret2, code), 40029},
		{"missing code", code2session(app1, secret1, ""), 41008},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrcode(t, e.get("/sns/jscode2session", c.query), c.want)
		})
	}
	// None of the failures consumed the code.
	if r := e.get("/sns/jscode2session", code2session(app1, secret1, code)); r.str("session_key") == "" {
		t.Fatalf("code after failures: %s", r.Body)
	}
}

func TestJSCode2SessionExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CodeTTL = time.Minute })
	code, _ := e.s.Login(app1, "")
	e.clk.Advance(time.Minute)
	wantErrcode(t, e.get("/sns/jscode2session", code2session(app1, secret1, code)), 40029)
	code, _ = e.s.Login(app1, "")
	e.clk.Advance(time.Minute - time.Second)
	if r := e.get("/sns/jscode2session", code2session(app1, secret1, code)); r.str("session_key") == "" {
		t.Fatalf("code within TTL: %s", r.Body)
	}
}

func TestSessionKeyRotationAndCheckSession(t *testing.T) {
	e := newEnv(t)
	tok := e.token(app1, secret1)
	k1 := e.session(app1, secret1, "oRot")
	k2 := e.session(app1, secret1, "oRot")
	if k1 == k2 || e.s.SessionKey(app1, "oRot") != k2 {
		t.Fatal("each login must rotate the session_key")
	}
	sig := func(key string) string {
		m := hmac.New(sha256.New, []byte(key))
		return hex.EncodeToString(m.Sum(nil))
	}
	check := func(openid, signature, method string) int {
		return e.get("/wxa/checksession", url.Values{"access_token": {tok}, "openid": {openid}, "signature": {signature}, "sig_method": {method}}).errcode()
	}
	cases := []struct {
		name, openid, sig, method string
		want                      int
	}{
		{"current key", "oRot", sig(k2), "hmac_sha256", 0},
		{"uppercase hex", "oRot", strings.ToUpper(sig(k2)), "hmac_sha256", 0},
		{"old key", "oRot", sig(k1), "hmac_sha256", 87009},
		{"garbage", "oRot", "zz", "hmac_sha256", 87009},
		{"sig_method", "oRot", sig(k2), "md5", 87008},
		{"unknown openid", "oNobody", sig(k2), "hmac_sha256", 40003},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := check(c.openid, c.sig, c.method); got != c.want {
				t.Fatalf("errcode %d, want %d", got, c.want)
			}
		})
	}
	wantErrcode(t, e.do(http.MethodPost, "/wxa/checksession", url.Values{"access_token": {tok}}, "", nil), 43001)
}

func TestLoginUsersAndUnionID(t *testing.T) {
	e := newEnv(t)
	r := e.post("/sandbox/login", nil, map[string]string{"appid": app1, "user": "alice"})
	r2 := e.post("/sandbox/login", nil, map[string]string{"appid": app1, "user": "alice"})
	r3 := e.post("/sandbox/login", nil, map[string]string{"appid": app2, "user": "alice"})
	if r.Status != http.StatusOK || r.str("openid") != r2.str("openid") || r.str("openid") == r3.str("openid") {
		t.Fatalf("openids must be stable per (app, user): %s %s %s", r.Body, r2.Body, r3.Body)
	}
	if len(r.str("openid")) != 28 || r.str("openid")[0] != 'o' {
		t.Fatalf("openid shape %q", r.str("openid"))
	}
	s1 := e.get("/sns/jscode2session", code2session(app1, secret1, r.str("code")))
	s3 := e.get("/sns/jscode2session", code2session(app2, secret2, r3.str("code")))
	if s1.str("unionid") == "" || s1.str("unionid") != s3.str("unionid") {
		t.Fatalf("unionid must be shared across apps: %s %s", s1.Body, s3.Body)
	}
	if r := e.post("/sandbox/login", nil, map[string]string{"appid": app1, "openid": "oX", "unionid": "oUnion"}); r.str("openid") != "oX" {
		t.Fatalf("explicit openid: %s", r.Body)
	} else if s := e.get("/sns/jscode2session", code2session(app1, secret1, r.str("code"))); s.str("unionid") != "oUnion" {
		t.Fatalf("explicit unionid: %s", s.Body)
	}
	a, b := e.post("/sandbox/login", nil, map[string]string{"appid": app1}), e.post("/sandbox/login", nil, map[string]string{"appid": app1})
	if a.str("openid") == b.str("openid") {
		t.Fatal("anonymous logins must create distinct users")
	}
	if r := e.post("/sandbox/login", nil, map[string]string{"appid": "wxnope"}); r.Status != http.StatusNotFound || r.str("error") == "" {
		t.Fatalf("unknown app: %d %s", r.Status, r.Body)
	}
	if r := e.get("/sandbox/login", nil); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /sandbox/login: %d", r.Status)
	}
}
