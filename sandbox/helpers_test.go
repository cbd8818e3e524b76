package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	app1, secret1 = "wx1111111111111111", "secret-one"
	app2, secret2 = "wx2222222222222222", "secret-two"
	testAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a sandbox running in httptest with a fake clock.
type env struct {
	t   *testing.T
	s   *Server
	ts  *httptest.Server
	clk *clock
}

func newEnv(t *testing.T, mutate ...func(*Config)) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	cfg := Config{
		Apps: []App{
			{AppID: app1, Secret: secret1, Token: "tok1", AESKey: testAESKey},
			{AppID: app2, Secret: secret2, Token: "tok2", AESKey: testAESKey, MsgFormat: "XML"},
		},
		Now: clk.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s := New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{t: t, s: s, ts: ts, clk: clk}
}

// result is a decoded JSON response with its status.
type result struct {
	Status int
	Header http.Header
	Body   []byte
	M      map[string]any
}

func (r result) errcode() int {
	v, ok := r.M["errcode"]
	if !ok {
		return 0
	}
	n, _ := v.(json.Number).Int64()
	return int(n)
}

func (r result) str(key string) string {
	s, _ := r.M[key].(string)
	return s
}

func (e *env) do(method, path string, query url.Values, contentType string, body []byte) result {
	e.t.Helper()
	u := e.ts.URL + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	res := result{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&res.M); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return res
}

func (e *env) get(path string, query url.Values) result {
	e.t.Helper()
	return e.do(http.MethodGet, path, query, "", nil)
}

func (e *env) post(path string, query url.Values, body any) result {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPost, path, query, "application/json", b)
}

// token fetches a classic access token for appid.
func (e *env) token(appid, secret string) string {
	e.t.Helper()
	r := e.get("/cgi-bin/token", url.Values{"grant_type": {"client_credential"}, "appid": {appid}, "secret": {secret}})
	tok := r.str("access_token")
	if tok == "" {
		e.t.Fatalf("token: %s", r.Body)
	}
	return tok
}

// probe calls a token-protected API with tok and returns the errcode:
// 87008 (bad sig_method) means the token was accepted.
func (e *env) probe(tok string) int {
	e.t.Helper()
	return e.get("/wxa/checksession", url.Values{"access_token": {tok}, "sig_method": {"none"}}).errcode()
}

// session logs openid in through wx.login and jscode2session.
func (e *env) session(appid, secret, openid string) (sessionKey string) {
	e.t.Helper()
	code, err := e.s.Login(appid, openid)
	if err != nil {
		e.t.Fatal(err)
	}
	r := e.get("/sns/jscode2session", url.Values{"appid": {appid}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}})
	if r.str("session_key") == "" {
		e.t.Fatalf("jscode2session: %s", r.Body)
	}
	return r.str("session_key")
}

func wantErrcode(t *testing.T, r result, want int) {
	t.Helper()
	if got := r.errcode(); got != want {
		t.Fatalf("errcode = %d, want %d; body %s", got, want, r.Body)
	}
}
