package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
)

// The admin routes of the console (SPEC §7.9), end to end on the real Main.

func TestAdminApps(t *testing.T) {
	// push_mode is the configured one, not derived from the aes_key.
	e := startMain(t, func(c *config.Config) { withAdmin(c); withXMLApp(c); c.Apps[1].PushMode = "compat" })
	var got struct {
		Apps []map[string]string `json:"apps"`
	}
	if st, _ := e.do("GET", "/admin/v1/apps", adminKey, nil, &got); st != 200 {
		t.Fatalf("apps: %d", st)
	}
	want := fmt.Sprint([]map[string]string{
		{"appid": xmlAppID, "msg_format": "XML", "push_mode": "compat"},
		{"appid": config.DemoAppID, "msg_format": "JSON", "push_mode": "safe"},
	})
	if fmt.Sprint(got.Apps) != want {
		t.Fatalf("apps = %v, want %v", got.Apps, want)
	}
	if body := e.bodies.String(); strings.Contains(body, "xml-secret") || strings.Contains(body, "xmltoken") {
		t.Fatalf("a secret in the answer: %s", body)
	}
	if st, _ := e.do("GET", "/admin/v1/apps", "wrong-admin-key-0123456789", nil, nil); st != 401 {
		t.Fatalf("wrong key: %d, want 401", st)
	}
}

type sessionView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	RevokedAt string `json:"revoked_at"`
}

type sessionsAnswer struct {
	Sessions []sessionView `json:"sessions"`
}

// sidOf reads the session id claim of an access token (unverified: the
// test only needs to know which session it names).
func sidOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Sid string }
	if err := json.Unmarshal(raw, &c); err != nil || c.Sid == "" {
		t.Fatalf("claims %s: %v", raw, err)
	}
	return c.Sid
}

// TestAdminRevokeSession: the console revokes a session and the user's next
// call is 401, its refresh refused.
func TestAdminRevokeSession(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAdmin(c); withXMLApp(c) })
	l := e.login("rita")
	e.login("rita") // a second session of the same user
	base := fmt.Sprintf("/admin/v1/%s/users/%d/sessions", config.DemoAppID, l.User.ID)
	var ss sessionsAnswer
	if st, _ := e.do("GET", base, adminKey, nil, &ss); st != 200 || len(ss.Sessions) != 2 {
		t.Fatalf("sessions: %d %+v", st, ss)
	}
	for _, s := range ss.Sessions {
		if s.Status != "live" || s.ID == "" {
			t.Fatalf("session %+v, want live", s)
		}
	}
	if strings.Contains(e.bodies.String(), "sealed") {
		t.Fatal("the sealed session key is in the answer")
	}
	sid := sidOf(t, l.AccessToken)
	revoked := slices.IndexFunc(ss.Sessions, func(s sessionView) bool { return s.ID == sid })
	if revoked < 0 {
		t.Fatalf("session %s not listed: %+v", sid, ss)
	}
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me before revoke: %d", st)
	}
	// Another app's path does not reach the session.
	var ea errorAnswer
	if st, _ := e.do("DELETE", "/admin/v1/"+xmlAppID+"/sessions/"+sid, adminKey, nil, &ea); st != 404 || ea.Error.Code != "not_found" {
		t.Fatalf("revoke through another app: %d %+v", st, ea)
	}
	if st, _ := e.do("DELETE", "/admin/v1/"+config.DemoAppID+"/sessions/"+sid, adminKey, nil, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, nil); st != 401 {
		t.Fatalf("me after revoke: %d, want 401", st)
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/token/refresh", "", map[string]string{"refresh_token": l.RefreshToken}, nil); st != 401 {
		t.Fatalf("refresh after revoke: %d, want 401", st)
	}
	ss = sessionsAnswer{}
	e.do("GET", base, adminKey, nil, &ss)
	if ss.Sessions[revoked].Status != "revoked" || ss.Sessions[revoked].RevokedAt == "" || ss.Sessions[1-revoked].Status != "live" {
		t.Fatalf("after revoke: %+v", ss)
	}
	if st, _ := e.do("DELETE", "/admin/v1/"+config.DemoAppID+"/sessions/"+sid, adminKey, nil, nil); st != 204 {
		t.Fatalf("revoke twice: %d, want 204", st)
	}
}

func TestAdminConsoleRoutesRefuseBadInput(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAdmin(c); withXMLApp(c) })
	l := e.login("sara")
	demo, xml := "/admin/v1/"+config.DemoAppID, "/admin/v1/"+xmlAppID
	tests := []struct {
		name, method, path, key string
		status                  int
		code                    string
	}{
		{"sessions of a bad id", "GET", demo + "/users/abc/sessions", adminKey, 404, "not_found"},
		{"sessions of a zero id", "GET", demo + "/users/0/sessions", adminKey, 404, "not_found"},
		{"sessions of a huge id", "GET", demo + "/users/99999999999999999999/sessions", adminKey, 404, "not_found"},
		{"sessions of another app's user", "GET", fmt.Sprintf("%s/users/%d/sessions", xml, l.User.ID), adminKey, 404, "not_found"},
		{"sessions of an unknown app", "GET", "/admin/v1/wxnope/users/1/sessions", adminKey, 404, "app_not_found"},
		{"revoke a malformed id", "DELETE", demo + "/sessions/a%20b", adminKey, 404, "not_found"},
		{"revoke a long id", "DELETE", demo + "/sessions/" + strings.Repeat("a", 129), adminKey, 404, "not_found"},
		{"revoke an unknown id", "DELETE", demo + "/sessions/nope", adminKey, 404, "not_found"},
		{"revoke without a key", "DELETE", demo + "/sessions/nope", "", 401, "unauthorized"},
		{"stats with a bad since", "GET", demo + "/stats?since=yesterday", adminKey, 400, "invalid_request"},
		{"stats of an unknown app", "GET", "/admin/v1/wxnope/stats", adminKey, 404, "app_not_found"},
		{"stats with a wrong key", "GET", demo + "/stats", "wrong-admin-key-0123456789", 401, "unauthorized"},
		{"messages with a bad status", "GET", demo + "/messages?status=lost", adminKey, 400, "invalid_request"},
		{"messages with a bad cursor", "GET", demo + "/messages?cursor=%27%3B--", adminKey, 400, "invalid_request"},
		{"messages with a bad limit", "GET", demo + "/messages?limit=1000", adminKey, 400, "invalid_request"},
		{"inbox with a bad status", "GET", demo + "/inbox?status=lost", adminKey, 400, "invalid_request"},
		{"inbox with a bad type", "GET", demo + "/inbox?msg_type=%3Cscript%3E", adminKey, 400, "invalid_request"},
		{"users with an empty openid", "GET", demo + "/users?openid=", adminKey, 400, "invalid_request"},
		{"users with a long openid", "GET", demo + "/users?openid=" + strings.Repeat("o", 129), adminKey, 400, "invalid_request"},
		{"apps with a wrong method", "POST", "/admin/v1/apps", adminKey, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ea errorAnswer
			if st, _ := e.do(tt.method, tt.path, tt.key, nil, &ea); st != tt.status || ea.Error.Code != tt.code {
				t.Fatalf("%d %+v, want %d %s", st, ea, tt.status, tt.code)
			}
		})
	}
	// Nothing was revoked by any of it.
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, nil); st != 200 {
		t.Fatalf("me: %d", st)
	}
}

type statsAnswer struct {
	Users    int64            `json:"users"`
	Logins   int64            `json:"logins"`
	Pushes   int64            `json:"pushes"`
	Outbound map[string]int64 `json:"outbound"`
	Token    struct{ Cached bool }
	Ready    map[string]string `json:"ready"`
}

func TestAdminStatsMessagesAndFilters(t *testing.T) {
	e := startMain(t, withAdmin)
	demo := "/admin/v1/" + config.DemoAppID
	var st0 statsAnswer
	e.do("GET", demo+"/stats", adminKey, nil, &st0)
	if st0.Users != 0 || st0.Token.Cached || st0.Outbound["sent"] != 0 || st0.Ready["database"] != "ok" {
		t.Fatalf("empty stats: %+v", st0)
	}
	a, b := e.login("tina"), e.login("uma")
	e.login("tina")
	var m1, m2 messageAnswer
	e.do("POST", demo+"/messages/subscribe", adminKey, subscribeBody(a.User.OpenID), &m1)
	e.waitMessage(m1.ID)
	e.do("POST", demo+"/messages/customer", adminKey, map[string]any{"openid": b.User.OpenID, "msgtype": "text", "text": map[string]string{"content": "hi"}}, &m2)
	e.waitMessage(m2.ID)
	for i, msg := range []map[string]any{
		{"ToUserName": "gh_1", "FromUserName": a.User.OpenID, "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "hello", "MsgId": 81},
		{"ToUserName": "gh_1", "FromUserName": a.User.OpenID, "CreateTime": time.Now().Unix(), "MsgType": "event", "Event": "subscribe_msg_popup_event"},
	} {
		var ans struct{ Status int }
		if e.do("POST", "/sandbox/push", "", map[string]any{"appid": config.DemoAppID, "message": msg}, &ans); ans.Status != 200 {
			t.Fatalf("push %d: %d", i, ans.Status)
		}
	}
	e.waitInbox(config.DemoAppID, 2)

	var st statsAnswer
	e.do("GET", demo+"/stats", adminKey, nil, &st)
	if st.Users != 2 || st.Logins != 3 || st.Pushes != 2 || st.Outbound["sent"] != 2 || !st.Token.Cached {
		t.Fatalf("stats: %+v", st)
	}
	e.do("GET", demo+"/stats?since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), adminKey, nil, &st)
	if st.Users != 2 || st.Logins != 0 || st.Pushes != 0 {
		t.Fatalf("stats since an hour ahead: %+v", st)
	}

	var page struct {
		Messages   []messageAnswer `json:"messages"`
		NextCursor string          `json:"next_cursor"`
	}
	e.do("GET", demo+"/messages?limit=1", adminKey, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != m2.ID || page.NextCursor != m2.ID {
		t.Fatalf("first page: %+v", page)
	}
	cursor := page.NextCursor
	page.NextCursor = ""
	e.do("GET", demo+"/messages?limit=1&cursor="+cursor, adminKey, nil, &page)
	if len(page.Messages) != 1 || page.Messages[0].ID != m1.ID || page.NextCursor != "" {
		t.Fatalf("second page: %+v", page)
	}
	e.do("GET", demo+"/messages?status=failed", adminKey, nil, &page)
	if len(page.Messages) != 0 {
		t.Fatalf("failed: %+v", page)
	}

	in := inboxAnswer{}
	e.do("GET", demo+"/inbox?msg_type=event", adminKey, nil, &in)
	if len(in.Messages) != 1 || in.Messages[0].Event != "subscribe_msg_popup_event" {
		t.Fatalf("events: %+v", in)
	}
	in = inboxAnswer{}
	e.do("GET", demo+"/inbox?msg_type=text&status=handled", adminKey, nil, &in)
	if len(in.Messages) != 1 || in.Messages[0].MsgType != "text" {
		t.Fatalf("handled text: %+v", in)
	}

	var users struct{ Users []struct{ ID int64 } }
	e.do("GET", demo+"/users?openid="+b.User.OpenID, adminKey, nil, &users)
	if len(users.Users) != 1 || users.Users[0].ID != b.User.ID {
		t.Fatalf("by openid: %+v", users)
	}
	e.do("GET", demo+"/users?openid=o-nobody", adminKey, nil, &users)
	if len(users.Users) != 0 {
		t.Fatalf("unknown openid: %+v", users)
	}
}

// TestProfileUpdateByPost: wx.request cannot send PATCH, so POST …/me takes
// the same body.
func TestProfileUpdateByPost(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("vera")
	var u struct{ Nickname string }
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, map[string]string{"nickname": "Vera"}, &u); st != 200 || u.Nickname != "Vera" {
		t.Fatalf("POST me: %d %+v", st, u)
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me", "", map[string]string{"nickname": "x"}, nil); st != 401 {
		t.Fatalf("POST me without a token: %d", st)
	}
}
