package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/outbox"
)

// syncBuffer collects every log line of a test's Main.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is one running miniback in sandbox mode, reached over HTTP.
type testEnv struct {
	t      *testing.T
	m      *Main
	base   string
	client *http.Client // checks every request and answer against /openapi.json
	logs   *syncBuffer
	bodies *syncBuffer // every response body the test saw
	keys   []string    // every session key the sandbox handed out for our logins
}

// startMain runs Main on 127.0.0.1:0 with the embedded sandbox. mutate may
// adjust the configuration first.
func startMain(t *testing.T, mutate func(*config.Config)) *testEnv {
	t.Helper()
	return startMainWith(t, mutate, nil)
}

// startMainWith is startMain with tune applied to Main before Open.
func startMainWith(t *testing.T, mutate func(*config.Config), tune func(*Main)) *testEnv {
	t.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = "sqlite://" + cfg.DataDir + "/miniback.db"
	cfg.Analytics.DatacubeAt = "off" // its background WeChat calls would skew the sandbox's call counts
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	m := &Main{Config: cfg, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Stdout: io.Discard,
		tuneOutbox: func(c *outbox.Config) { c.BaseDelay = 20 * time.Millisecond }}
	if tune != nil {
		tune(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	e := &testEnv{t: t, m: m, base: "http://" + m.Addr(), client: newValidatingClient(t), logs: logs, bodies: &syncBuffer{}}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		m.Close()
		e.assertNoSessionKeyLeaked()
	})
	return e
}

// do sends a request and decodes a JSON answer into out (when non-nil).
func (e *testEnv) do(method, path, token string, body any, out any) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	e.bodies.Write(raw)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// errorAnswer is SPEC's error JSON.
type errorAnswer struct {
	Error struct {
		Code          string `json:"code"`
		Message       string `json:"message"`
		WeChatErrCode int    `json:"wechat_errcode"`
	} `json:"error"`
}

type loginAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Created      bool   `json:"created"`
	User         struct {
		ID     int64  `json:"id"`
		AppID  string `json:"appid"`
		OpenID string `json:"openid"`
	} `json:"user"`
}

// code asks the sandbox for a wx.login code, as the phone would.
func (e *testEnv) code(user string) string {
	e.t.Helper()
	var out struct{ Code string }
	if st, _ := e.do("POST", "/sandbox/login", "", map[string]string{"appid": config.DemoAppID, "user": user}, &out); st != 200 || out.Code == "" {
		e.t.Fatalf("sandbox login: %d %+v", st, out)
	}
	return out.Code
}

func (e *testEnv) login(user string) loginAnswer {
	e.t.Helper()
	var out loginAnswer
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/login", "", map[string]string{"code": e.code(user)}, &out); st != 200 {
		e.t.Fatalf("login: %d", st)
	}
	e.keys = append(e.keys, e.m.Sandbox.SessionKey(config.DemoAppID, out.User.OpenID))
	return out
}

// assertNoSessionKeyLeaked checks every log line and answer of the test for
// the session keys the sandbox handed out.
func (e *testEnv) assertNoSessionKeyLeaked() {
	for _, key := range e.keys {
		if key == "" {
			e.t.Errorf("the sandbox handed out no session key")
			continue
		}
		if strings.Contains(e.logs.String(), key) {
			e.t.Errorf("a session key appears in the logs")
		}
		if strings.Contains(e.bodies.String(), key) {
			e.t.Errorf("a session key appears in an answer")
		}
	}
}

func TestLoginOverHTTP(t *testing.T) {
	e := startMain(t, nil)
	first := e.login("alice")
	if first.AccessToken == "" || first.RefreshToken == "" || first.TokenType != "Bearer" || first.ExpiresIn != 900 || !first.Created {
		t.Fatalf("login answer = %+v", first)
	}
	if first.User.AppID != config.DemoAppID || first.User.OpenID == "" {
		t.Fatalf("user = %+v", first.User)
	}
	second := e.login("alice")
	if second.Created || second.User.ID != first.User.ID {
		t.Fatalf("second login created a new user: %+v", second)
	}
	var me struct {
		ID     int64  `json:"id"`
		OpenID string `json:"openid"`
	}
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", second.AccessToken, nil, &me); st != 200 || me.ID != first.User.ID {
		t.Fatalf("me: %d %+v", st, me)
	}
	// One request line per request, with the route pattern and the appid.
	want := `"route":"GET /api/v1/{appid}/me","status":200`
	if logs := e.logs.String(); !strings.Contains(logs, want) || !strings.Contains(logs, `"appid":"`+config.DemoAppID+`"`) {
		t.Fatalf("no request log line with %s and the appid", want)
	}
}

func TestUsedCodeIsRefused(t *testing.T) {
	e := startMain(t, nil)
	code := e.code("bob")
	path := "/api/v1/" + config.DemoAppID + "/login"
	if st, _ := e.do("POST", path, "", map[string]string{"code": code}, nil); st != 200 {
		t.Fatalf("first use: %d", st)
	}
	var out errorAnswer
	st, _ := e.do("POST", path, "", map[string]string{"code": code}, &out)
	if st != 400 || out.Error.Code != "invalid_code" || out.Error.WeChatErrCode != 40163 {
		t.Fatalf("reuse: %d %+v", st, out)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("carol")
	path := "/api/v1/" + config.DemoAppID + "/token/refresh"
	var next loginAnswer
	if st, _ := e.do("POST", path, "", map[string]string{"refresh_token": l.RefreshToken}, &next); st != 200 || next.RefreshToken == "" || next.RefreshToken == l.RefreshToken {
		t.Fatalf("refresh: %d %+v", st, next)
	}
	// The old token again: reuse revokes the whole family.
	var out errorAnswer
	if st, _ := e.do("POST", path, "", map[string]string{"refresh_token": l.RefreshToken}, &out); st != 401 || out.Error.Code != "invalid_refresh_token" {
		t.Fatalf("reuse: %d %+v", st, out)
	}
	if st, _ := e.do("POST", path, "", map[string]string{"refresh_token": next.RefreshToken}, &out); st != 401 {
		t.Fatalf("newest token of a revoked family still works: %d", st)
	}
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", next.AccessToken, nil, &out); st != 401 {
		t.Fatalf("access token of a revoked family still works: %d", st)
	}
}

func TestLogoutIsImmediate(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("dave")
	me := "/api/v1/" + config.DemoAppID + "/me"
	if st, _ := e.do("GET", me, l.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me before logout: %d", st)
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/logout", l.AccessToken, nil, nil); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	var out errorAnswer
	if st, _ := e.do("GET", me, l.AccessToken, nil, &out); st != 401 || out.Error.Code != "unauthorized" {
		t.Fatalf("me after logout: %d %+v", st, out)
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/token/refresh", "", map[string]string{"refresh_token": l.RefreshToken}, nil); st != 401 {
		t.Fatalf("refresh after logout: %d", st)
	}
}

func TestHealthReadyJWKS(t *testing.T) {
	e := startMain(t, nil)
	for _, p := range []string{"/healthz", "/readyz", "/.well-known/jwks.json", "/metrics"} {
		if st, _ := e.do("GET", p, "", nil, nil); st != 200 {
			t.Errorf("%s: %d", p, st)
		}
	}
	var jwks struct {
		Keys []struct{ Kid, Crv, X string }
	}
	e.do("GET", "/.well-known/jwks.json", "", nil, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0].Crv != "Ed25519" {
		t.Fatalf("jwks = %+v", jwks)
	}
}

func TestSigningKeyReusedAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	var kids []string
	for range 2 {
		e := startMain(t, func(c *config.Config) { c.DataDir = dir; c.Database.URL = "sqlite://" + dir + "/m.db" })
		var jwks struct{ Keys []struct{ Kid string } }
		e.do("GET", "/.well-known/jwks.json", "", nil, &jwks)
		kids = append(kids, jwks.Keys[0].Kid)
		cancelEnv(e)
	}
	if kids[0] != kids[1] {
		t.Fatalf("signing key changed across restarts: %v", kids)
	}
}

// cancelEnv stops e early (its cleanup then has nothing left to do but check).
func cancelEnv(e *testEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.m.server.Shutdown(ctx)
}
