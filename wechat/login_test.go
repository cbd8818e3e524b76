package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/flex"
	"github.com/miniback/miniback/wxcrypto"
)

func jscode2sessionRoute(f *fakeWeChat) {
	f.route("/sns/jscode2session", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("appid") != f.appID || q.Get("secret") != f.secret ||
			q.Get("grant_type") != "authorization_code" || q.Has("access_token"):
			writeJSON(w, errBody(40013, "invalid appid"))
		case q.Get("js_code") == "good":
			// No errcode on success, as WeChat does now.
			writeJSON(w, map[string]any{"openid": "oOPENID", "unionid": "oUNION",
				"session_key": "o0q0otL8aEzpcZL/FT9WsQ=="})
		default:
			writeJSON(w, errBody(40029, "invalid code"))
		}
	})
}

func TestCode2Session(t *testing.T) {
	f := newFake(t)
	jscode2sessionRoute(f)
	c := f.client()
	s, err := c.Code2Session(t.Context(), "good")
	if err != nil {
		t.Fatal(err)
	}
	want := Session{OpenID: "oOPENID", UnionID: "oUNION", SessionKey: "o0q0otL8aEzpcZL/FT9WsQ=="}
	if *s != want {
		t.Fatalf("session = %#v", s)
	}
	calls := f.recorded("/sns/jscode2session")
	if calls[0].Method != http.MethodGet || calls[0].Query.Get("js_code") != "good" {
		t.Fatalf("request = %+v", calls[0])
	}
	if n := len(f.recorded(pathStableToken)); n != 0 {
		t.Fatalf("code2Session fetched %d access tokens, want 0", n)
	}

	_, err = c.Code2Session(t.Context(), "bad")
	var we *Error
	if !errors.As(err, &we) || we.Code != 40029 || !strings.Contains(we.Msg, "invalid code") ||
		we.API != "/sns/jscode2session" || we.IsTokenInvalid() || IsRetryable(err) {
		t.Fatalf("err = %v, want *Error 40029", err)
	}
	if strings.Contains(err.Error(), f.secret) {
		t.Fatalf("error %q contains the secret", err)
	}
}

func TestSessionKeyNeverPrinted(t *testing.T) {
	s := &Session{OpenID: "oOPENID", UnionID: "oUNION", SessionKey: "SESSIONKEY-secret=="}
	var printed []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		printed = append(printed, fmt.Sprintf(format, s), fmt.Sprintf(format, *s))
	}
	printed = append(printed, fmt.Sprint(s), fmt.Sprintln(*s), s.String(), s.GoString())
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("login", "session", s, "value", *s)
	}
	printed = append(printed, buf.String())
	b, _ := json.Marshal(s)
	printed = append(printed, string(b))
	for _, p := range printed {
		if strings.Contains(p, "SESSIONKEY") {
			t.Fatalf("session key printed: %s", p)
		}
		if !strings.Contains(p, "oOPENID") && !strings.Contains(p, "6f4f50454e4944") {
			t.Fatalf("openid missing from %q", p)
		}
	}
}

func TestCheckSession(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/checksession", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("signature") != "46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128" {
			writeJSON(w, errBody(87009, "invalid signature"))
			return
		}
		okRoute(nil)(w, r)
	})
	c := f.client()
	if err := c.CheckSession(t.Context(), "oOPENID", "o0q0otL8aEzpcZL/FT9WsQ=="); err != nil {
		t.Fatal(err)
	}
	q := f.recorded("/wxa/checksession")[0].Query
	if q.Get("openid") != "oOPENID" || q.Get("sig_method") != "hmac_sha256" || q.Get("access_token") == "" {
		t.Fatalf("query = %v", q)
	}
	err := c.CheckSession(t.Context(), "oOPENID", "stale-key")
	var we *Error
	if !errors.As(err, &we) || we.Code != 87009 {
		t.Fatalf("err = %v, want *Error 87009", err)
	}
}

func TestPhoneNumber(t *testing.T) {
	tests := []struct {
		name        string
		countryCode any
		appID       string
		wantErr     error
	}{
		{"number country code", 86, "wxapp0001", nil},
		{"string country code", "86", "wxapp0001", nil},
		{"other app's watermark", 86, "wxother", wxcrypto.ErrWatermark},
		{"no watermark appid", 86, "", wxcrypto.ErrWatermark},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.route("/wxa/business/getuserphonenumber", okRoute(map[string]any{"phone_info": map[string]any{
				"phoneNumber": "+8613800138000", "purePhoneNumber": "13800138000", "countryCode": tt.countryCode,
				"watermark": map[string]any{"timestamp": 1732154400, "appid": tt.appID}}}))
			p, err := f.client().PhoneNumber(t.Context(), "a&b<c>")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := PhoneInfo{PhoneNumber: "+8613800138000", PurePhoneNumber: "13800138000", CountryCode: "86",
				Watermark: wxcrypto.Watermark{Timestamp: 1732154400, AppID: "wxapp0001"}}
			if *p != want {
				t.Fatalf("phone = %+v", p)
			}
			call := f.recorded("/wxa/business/getuserphonenumber")[0]
			if call.Method != http.MethodPost || string(call.Body) != `{"code":"a&b<c>"}` {
				t.Fatalf("request %s body %s, want POST with & < > unescaped", call.Method, call.Body)
			}
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	f := newFake(t)
	entered := make(chan struct{}, 10)
	f.route("/wxa/checksession", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
	})
	c := f.client(WithTimeout(50 * time.Millisecond))
	if _, err := c.AccessToken(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := c.CheckSession(t.Context(), "o", "k")
	if err == nil || !IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
	tok, _ := c.AccessToken(t.Context())
	if strings.Contains(err.Error(), tok) {
		t.Fatalf("error %q contains the access token", err)
	}
	<-entered

	ctx, cancel := context.WithCancel(t.Context())
	c = f.client(WithTimeout(time.Minute))
	go func() {
		<-entered
		cancel()
	}()
	err = c.CheckSession(ctx, "o", "k")
	if !errors.Is(err, context.Canceled) || IsRetryable(err) {
		t.Fatalf("caller cancel: err = %v, want context.Canceled and not retryable", err)
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	f := newFake(t)
	base := f.srv.URL
	f.srv.Close() // every request now fails to connect
	for _, mode := range []TokenMode{TokenModeStable, TokenModeClassic} {
		c := NewClient(f.appID, f.secret, WithBaseURL(base), WithTokenMode(mode), WithTimeout(time.Second))
		_, err1 := c.Code2Session(t.Context(), "code")
		_, err2 := c.AccessToken(t.Context())
		for _, err := range []error{err1, err2} {
			if err == nil || strings.Contains(err.Error(), f.secret) || strings.Contains(err.Error(), "secret=") {
				t.Fatalf("%s: err = %v", mode, err)
			}
			if !IsRetryable(err) {
				t.Fatalf("%s: connection failure %v not retryable", mode, err)
			}
		}
	}
}

func TestHTTPStatusErrors(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/checksession", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	})
	err := f.client().CheckSession(t.Context(), "o", "k")
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 502 || !IsRetryable(err) {
		t.Fatalf("err = %v, want retryable *HTTPError 502", err)
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"system busy", &Error{Code: -1}, true},
		{"daily quota", &Error{Code: 45009}, true},
		{"minute quota", fmt.Errorf("send: %w", &Error{Code: 45011}), true},
		{"invalid code", &Error{Code: 40029}, false},
		{"token invalid", &Error{Code: 40001}, false},
		{"HTTP 503", &HTTPError{StatusCode: 503}, true},
		{"HTTP 429", &HTTPError{StatusCode: 429}, true},
		{"HTTP 404", &HTTPError{StatusCode: 404}, false},
		{"deadline", context.DeadlineExceeded, true},
		{"caller cancel", &transportError{api: "/x", err: context.Canceled}, false},
		{"connection", &transportError{api: "/x", err: errors.New("connection refused")}, true},
		{"other", errors.New("decode"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.want {
				t.Fatalf("IsRetryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorTokenInvalid(t *testing.T) {
	tests := []struct {
		code int
		api  string
		want bool
	}{
		{40001, "/wxa/checksession", true},
		{40014, "/wxa/checksession", true},
		{41001, "/wxa/checksession", true},
		{42001, "/wxa/checksession", true},
		{40029, "/wxa/checksession", false},
		{40001, pathToken, false},
		{40001, pathStableToken, false},
	}
	for _, tt := range tests {
		e := &Error{Code: tt.code, API: tt.api}
		if got := e.IsTokenInvalid(); got != tt.want {
			t.Errorf("%d on %s: IsTokenInvalid = %v, want %v", tt.code, tt.api, got, tt.want)
		}
	}
}

func TestDecodeKeepsLargeIDs(t *testing.T) {
	var out struct {
		MsgID flex.String `json:"msgid"`
		Label flex.Int    `json:"label"`
	}
	err := decodeJSON("/x", []byte(`{"errcode":0,"errmsg":"ok","msgid":3248682510344192008,"label":"20001"}`), &out)
	if err != nil || out.MsgID != "3248682510344192008" || out.Label != 20001 {
		t.Fatalf("decoded %+v, %v", out, err)
	}
	if err := decodeJSON("/x", []byte(`{"msgid":1}`), nil); err != nil {
		t.Fatalf("missing errcode: %v", err)
	}
}

// TestCode2SessionQuery checks the query Code2Session writes by hand: the
// bytes url.Values.Encode gives, every value escaped.
func TestCode2SessionQuery(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RawQuery
		writeJSON(w, map[string]any{"openid": "o1", "session_key": "k"})
	}))
	defer srv.Close()
	appid, secret, code := "wx&a=b", "s e+c/r?t#%", "c&o=d e+é"
	c := NewClient(appid, secret, WithBaseURL(srv.URL))
	if _, err := c.Code2Session(t.Context(), code); err != nil {
		t.Fatal(err)
	}
	want := url.Values{"appid": {appid}, "secret": {secret}, "js_code": {code}, "grant_type": {"authorization_code"}}.Encode()
	if got != want {
		t.Fatalf("query\n got %s\nwant %s", got, want)
	}
}

// TestCode2SessionAnswers covers the one-pass decoding of code2session's
// answer: each answer gives what decodeJSON gives.
func TestCode2SessionAnswers(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		code       int    // WeChat error code expected, 0 for none
		unexpected bool   // an *UnexpectedError-like failure (not *Error)
		openid     string // on success
	}{
		{"success", `{"openid":"o1","session_key":"k","unionid":"u"}`, 0, false, "o1"},
		{"errcode 0", `{"errcode":0,"errmsg":"ok","openid":"o1","session_key":"k"}`, 0, false, "o1"},
		{"error", `{"errcode":40029,"errmsg":"invalid code"}`, 40029, false, ""},
		{"errcode as string", `{"errcode":"40163","errmsg":"code been used"}`, 40163, false, ""},
		{"error with a field of the wrong type", `{"errcode":40226,"errmsg":"blocked","openid":5}`, 40226, false, ""},
		{"field of the wrong type", `{"openid":5,"session_key":"k"}`, 0, true, ""},
		{"not JSON", `<html>`, 0, true, ""},
		{"no session key", `{"openid":"o1"}`, 0, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			s, err := NewClient("wxa", "sec", WithBaseURL(srv.URL)).Code2Session(t.Context(), "c")
			var we *Error
			switch {
			case tt.code != 0:
				if !errors.As(err, &we) || we.Code != tt.code {
					t.Fatalf("err = %v, want *Error %d", err, tt.code)
				}
			case tt.unexpected:
				if err == nil || errors.As(err, &we) {
					t.Fatalf("err = %v, want an unexpected-answer error", err)
				}
			default:
				if err != nil || s.OpenID != tt.openid {
					t.Fatalf("session %v, err %v", s, err)
				}
			}
		})
	}
}
