package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/session"
)

// secondInstance serves a second API on e's database and state store, with
// its own revocation cache and token cache: another instance of the same
// deployment.
func secondInstance(t *testing.T, e *testEnv) *testEnv {
	t.Helper()
	a := e.m.API
	b := &api.Server{
		Apps: a.Apps, Users: e.m.DB.Users, Sessions: e.m.DB.Sessions, Inbox: a.Inbox, Messages: a.Messages,
		Media: a.Media, Stats: a.Stats, Outbox: a.Outbox, Tokens: session.NewIssuer(a.Tokens.Key, e.m.Config.Auth.AccessTTL),
		Sealer: a.Sealer, WeChat: a.WeChat, RefreshTTL: a.RefreshTTL,
		Live: &session.Live{State: e.m.State}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return &testEnv{t: t, m: e.m, base: srv.URL, client: e.client, logs: e.logs, bodies: e.bodies}
}

// TestRevocationImmediateOnEveryInstance: instance B has cached the
// session (and user) of a token; a logout, a refresh-token replay or a
// profile change on instance A shows on B's very next request.
func TestRevocationImmediateOnEveryInstance(t *testing.T) {
	a := startMain(t, withLegacy)
	b := secondInstance(t, a)
	me := "/api/v1/" + config.DemoAppID + "/me"
	warm := func(tok string) {
		t.Helper()
		for range 3 { // fill B's caches
			if st, _ := b.do("GET", me, tok, nil, nil); st != http.StatusOK {
				t.Fatalf("GET /me on B: %d", st)
			}
		}
	}

	t.Run("logout", func(t *testing.T) {
		l := a.login("live-logout")
		warm(l.AccessToken)
		if st, _ := a.do("POST", "/api/v1/"+config.DemoAppID+"/logout", l.AccessToken, nil, nil); st != http.StatusNoContent {
			t.Fatalf("logout on A: %d", st)
		}
		if st, _ := b.do("GET", me, l.AccessToken, nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("GET /me on B right after logout on A: %d, want 401", st)
		}
	})

	t.Run("refresh token replayed", func(t *testing.T) {
		l := a.login("live-replay")
		warm(l.AccessToken)
		body := map[string]string{"refresh_token": l.RefreshToken}
		if st, _ := a.do("POST", "/api/v1/"+config.DemoAppID+"/token/refresh", "", body, nil); st != http.StatusOK {
			t.Fatalf("refresh: %d", st)
		}
		if st, _ := a.do("POST", "/api/v1/"+config.DemoAppID+"/token/refresh", "", body, nil); st != http.StatusUnauthorized {
			t.Fatalf("replayed refresh: %d", st)
		}
		if st, _ := b.do("GET", me, l.AccessToken, nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("GET /me on B right after the replay revoked the session: %d, want 401", st)
		}
	})

	t.Run("admin revoke", func(t *testing.T) {
		l := a.login("live-admin")
		warm(l.AccessToken)
		sess, err := a.m.DB.Sessions.UserSessions(t.Context(), config.DemoAppID, l.User.ID, 1)
		if err != nil || len(sess) != 1 {
			t.Fatal(sess, err)
		}
		// Through A's wrapped store, as the console's revoke route does.
		if err := a.m.API.Sessions.RevokeSession(t.Context(), sess[0].ID, a.m.API.Now()); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.do("GET", me, l.AccessToken, nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("GET /me on B after the revoke: %d, want 401", st)
		}
	})

	t.Run("profile change", func(t *testing.T) {
		l := a.login("live-profile")
		warm(l.AccessToken)
		if st, _ := a.do("PATCH", me, l.AccessToken, map[string]string{"nickname": "changed on A"}, nil); st != http.StatusOK {
			t.Fatalf("PATCH on A: %d", st)
		}
		var u struct{ Nickname string }
		if st, _ := b.do("GET", me, l.AccessToken, nil, &u); st != http.StatusOK || u.Nickname != "changed on A" {
			t.Fatalf("GET /me on B: %d %+v", st, u)
		}
	})

	t.Run("login elsewhere replaces the session key", func(t *testing.T) {
		first := a.login("live-relogin")
		warm(first.AccessToken)
		a.login("live-relogin") // a new session key for every live session of the user
		var ph struct {
			PhoneNumber string `json:"phone_number"`
		}
		enc := a.legacyPhone(first.User.OpenID, "13800138000")
		body := map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}
		if st, _ := b.do("POST", me+"/phone", first.AccessToken, body, &ph); st != http.StatusOK || ph.PhoneNumber == "" {
			t.Fatalf("legacy phone on B with the new session key: %d %+v", st, ph)
		}
	})
}
