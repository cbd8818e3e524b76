package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// TestBadInput sends malformed requests to every route and checks SPEC's
// error JSON, a 4xx status and that nothing changed.
func TestBadInput(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withXMLApp(c); withLegacy(c) })
	l := e.login("erin")
	other := startMain(t, nil).login("erin") // a token signed by another instance's key
	app := "/api/v1/" + config.DemoAppID
	noneToken := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		strings.Split(l.AccessToken, ".")[1] + "."
	tests := []struct {
		name, method, path, ctype, token, body string
		status                                 int
		code                                   string
	}{
		{"unknown appid", "POST", "/api/v1/wxnope/login", "application/json", "", `{"code":"x"}`, 404, "app_not_found"},
		{"unknown route", "GET", "/api/v2/x", "", "", "", 404, "not_found"},
		{"wrong method", "DELETE", app + "/me", "", l.AccessToken, "", 405, "method_not_allowed"},
		{"login malformed json", "POST", app + "/login", "application/json", "", `{"code":`, 400, "invalid_request"},
		{"login not json", "POST", app + "/login", "application/json", "", `code=x`, 400, "invalid_request"},
		{"login wrong content type", "POST", app + "/login", "text/plain", "", `{"code":"x"}`, 415, "unsupported_media_type"},
		{"login no content type", "POST", app + "/login", "", "", `{"code":"x"}`, 415, "unsupported_media_type"},
		{"login empty body", "POST", app + "/login", "application/json", "", ``, 400, "invalid_request"},
		{"login empty code", "POST", app + "/login", "application/json", "", `{"code":""}`, 400, "invalid_request"},
		{"login code wrong type", "POST", app + "/login", "application/json", "", `{"code":5}`, 400, "invalid_request"},
		{"login unknown field", "POST", app + "/login", "application/json", "", `{"code":"x","evil":1}`, 400, "invalid_request"},
		{"login two objects", "POST", app + "/login", "application/json", "", `{"code":"x"}{"code":"y"}`, 400, "invalid_request"},
		{"login oversized", "POST", app + "/login", "application/json", "", `{"code":"` + strings.Repeat("a", 70000) + `"}`, 413, "payload_too_large"},
		{"login invalid code", "POST", app + "/login", "application/json", "", `{"code":"never-issued"}`, 400, "invalid_code"},
		{"login control chars", "POST", app + "/login", "application/json", "", `{"code":"a\u0000b"}`, 400, "invalid_request"},
		{"refresh unknown", "POST", app + "/token/refresh", "application/json", "", `{"refresh_token":"nope"}`, 401, "invalid_refresh_token"},
		{"refresh missing", "POST", app + "/token/refresh", "application/json", "", `{}`, 400, "invalid_request"},
		{"me no token", "GET", app + "/me", "", "", "", 401, "unauthorized"},
		{"me garbled token", "GET", app + "/me", "", "abc.def.ghi", "", 401, "unauthorized"},
		{"me alg none", "GET", app + "/me", "", noneToken, "", 401, "unauthorized"},
		{"me other instance's key", "GET", app + "/me", "", other.AccessToken, "", 401, "unauthorized"},
		{"token of another appid", "GET", "/api/v1/" + xmlAppID + "/me", "", l.AccessToken, "", 401, "unauthorized"},
		{"refresh token of another appid", "POST", "/api/v1/" + xmlAppID + "/token/refresh", "application/json", "", `{"refresh_token":"` + l.RefreshToken + `"}`, 401, "invalid_refresh_token"},
		{"patch me empty", "PATCH", app + "/me", "application/json", l.AccessToken, `{}`, 400, "invalid_request"},
		{"patch me bad avatar", "PATCH", app + "/me", "application/json", l.AccessToken, `{"avatar_url":"javascript:alert(1)"}`, 400, "invalid_request"},
		{"patch me long nickname", "PATCH", app + "/me", "application/json", l.AccessToken, `{"nickname":"` + strings.Repeat("名", 65) + `"}`, 400, "invalid_request"},
		{"phone nothing", "POST", app + "/me/phone", "application/json", l.AccessToken, `{}`, 400, "invalid_request"},
		{"phone both", "POST", app + "/me/phone", "application/json", l.AccessToken, `{"code":"a","encrypted_data":"b","iv":"c"}`, 400, "invalid_request"},
		{"phone bad code", "POST", app + "/me/phone", "application/json", l.AccessToken, `{"code":"never-issued"}`, 400, "invalid_code"},
		{"phone garbage cipher", "POST", app + "/me/phone", "application/json", l.AccessToken, `{"encrypted_data":"!!!","iv":"???"}`, 400, "decrypt_failed"},
		{"userinfo missing", "POST", app + "/me/userinfo", "application/json", l.AccessToken, `{"raw_data":"{}"}`, 400, "invalid_request"},
		{"userinfo bad signature", "POST", app + "/me/userinfo", "application/json", l.AccessToken, `{"raw_data":"{}","signature":"00","encrypted_data":"AA==","iv":"AA=="}`, 400, "invalid_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.base+tt.path, bytes.NewBufferString(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			e.bodies.Write(raw)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("content type %q", ct)
			}
			if !bytes.Contains(raw, []byte(`"code":"`+tt.code+`"`)) || !bytes.Contains(raw, []byte(`"message":"`)) {
				t.Fatalf("body %s, want code %s", raw, tt.code)
			}
		})
	}
	// The refresh token shown to another app was not consumed.
	if st, _ := e.do("POST", app+"/token/refresh", "", map[string]string{"refresh_token": l.RefreshToken}, nil); st != 200 {
		t.Fatalf("refresh token consumed by another app's route: %d", st)
	}
	// Nothing changed: the user is as it was.
	var me struct{ Nickname, AvatarURL, PhoneNumber string }
	e.do("GET", app+"/me", l.AccessToken, nil, &me)
	if me.Nickname != "" || me.AvatarURL != "" || me.PhoneNumber != "" {
		t.Fatalf("bad input changed the user: %+v", me)
	}
}
