package wechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeWeChat is a small stand-in for api.weixin.qq.com, written from the
// protocol notes, for this package's tests. It issues tokens, checks them
// on API routes and records every request.
type fakeWeChat struct {
	appID, secret string
	srv           *httptest.Server

	mu             sync.Mutex
	seq            int
	current        string          // the stable token
	valid          map[string]bool // tokens the API routes accept
	sameOnNormal   bool            // stable normal mode returns current even when revoked
	failNext       int             // next valid-token API calls answering 40001
	stableFetches  int
	forceFetches   int
	classicFetches int
	calls          []fakeCall
	routes         map[string]http.HandlerFunc
	gate           chan struct{} // when set, token fetches wait for it
}

// fakeCall is one recorded request.
type fakeCall struct {
	Method, Path, ContentType string
	Query                     url.Values
	Body                      []byte
}

func newFake(t *testing.T) *fakeWeChat {
	t.Helper()
	f := &fakeWeChat{appID: "wxapp0001", secret: "SEKRET-do-not-leak", valid: map[string]bool{},
		routes: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWeChat) client(opts ...Option) *Client {
	return NewClient(f.appID, f.secret, append([]Option{WithBaseURL(f.srv.URL)}, opts...)...)
}

// route registers an API handler that runs only with a valid access token.
func (f *fakeWeChat) route(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[path] = h
}

func (f *fakeWeChat) issue() string {
	f.seq++
	tok := fmt.Sprintf("TOKEN-%03d", f.seq)
	f.valid[tok] = true
	return tok
}

func (f *fakeWeChat) revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.valid, tok)
}

func (f *fakeWeChat) recorded(path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeWeChat) counts() (stable, force, classic int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stableFetches, f.forceFetches, f.classicFetches
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(code int, msg string) map[string]any {
	return map[string]any{"errcode": code, "errmsg": msg + ", rid: 6650f1a2-0aa1b2c3-1234abcd"}
}

func (f *fakeWeChat) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Body: body, ContentType: r.Header.Get("Content-Type")})
	gate := f.gate
	f.mu.Unlock()
	switch r.URL.Path {
	case pathStableToken:
		if gate != nil {
			<-gate
		}
		f.stableToken(w, r.Method, body)
	case pathToken:
		if gate != nil {
			<-gate
		}
		f.classicToken(w, r)
	default:
		f.api(w, r)
	}
}

func (f *fakeWeChat) stableToken(w http.ResponseWriter, method string, body []byte) {
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if method != http.MethodPost || json.Unmarshal(body, &req) != nil || req.AppID == "" {
		writeJSON(w, errBody(41002, "appid missing"))
		return
	}
	if req.AppID != f.appID || req.Secret != f.secret || req.GrantType != "client_credential" {
		writeJSON(w, errBody(40125, "invalid appsecret"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stableFetches++
	switch {
	case req.ForceRefresh:
		f.forceFetches++
		delete(f.valid, f.current)
		f.current = f.issue()
	case f.current == "" || (!f.valid[f.current] && !f.sameOnNormal):
		f.current = f.issue()
	}
	writeJSON(w, map[string]any{"access_token": f.current, "expires_in": 7200})
}

func (f *fakeWeChat) classicToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != http.MethodGet || q.Get("grant_type") != "client_credential" ||
		q.Get("appid") != f.appID || q.Get("secret") != f.secret {
		writeJSON(w, errBody(40001, "invalid credential"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.classicFetches++
	writeJSON(w, map[string]any{"access_token": f.issue(), "expires_in": 7200})
}

func (f *fakeWeChat) api(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	h, ok := f.routes[r.URL.Path]
	tok := r.URL.Query().Get("access_token")
	valid := f.valid[tok]
	fail := valid && f.failNext > 0
	if fail {
		f.failNext--
	}
	f.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case r.URL.Path == "/sns/jscode2session":
		h(w, r)
	case tok == "":
		writeJSON(w, errBody(41001, "access_token missing"))
	case !valid || fail:
		writeJSON(w, errBody(40001, "invalid credential, access_token is invalid or not latest"))
	default:
		h(w, r)
	}
}

// okRoute answers {"errcode":0,"errmsg":"ok"} plus extra fields.
func okRoute(extra map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := map[string]any{"errcode": 0, "errmsg": "ok"}
		for k, v := range extra {
			m[k] = v
		}
		writeJSON(w, m)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
