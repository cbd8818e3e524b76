package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// The reads of the admin console: a user's sessions, a page of outbound
// messages, an app's counts.

// sessionAt stores a live session of u created at created.
func sessionAt(t *testing.T, ss miniback.SessionStore, u *miniback.User, created time.Time) *miniback.Session {
	t.Helper()
	s := &miniback.Session{ID: "s-" + randomHex(t, 12), AppID: u.AppID, UserID: u.ID,
		SealedSessionKey: randomBytes(t, 48), CreatedAt: created, ExpiresAt: created.Add(lifetime)}
	rt := &miniback.RefreshToken{Hash: randomBytes(t, 32), SessionID: s.ID, ExpiresAt: s.ExpiresAt}
	if err := ss.CreateSession(context.Background(), s, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

// testUserSessions checks newest-first order, revoked sessions included,
// the limit, and the user and app boundaries.
func testUserSessions(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	u := mustUser(t, st.Users, appid, "o-1")
	other := mustUser(t, st.Users, appid, "o-2")
	s1 := sessionAt(t, st.Sessions, u, at(0))
	s2 := sessionAt(t, st.Sessions, u, at(time.Minute))
	s3 := sessionAt(t, st.Sessions, u, at(2*time.Minute))
	sessionAt(t, st.Sessions, other, at(3*time.Minute))
	if err := st.Sessions.RevokeSession(ctx, s2.ID, at(5*time.Minute)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	tests := []struct {
		name   string
		appid  string
		userID int64
		limit  int
		want   []string
	}{
		{"all", appid, u.ID, 10, []string{s3.ID, s2.ID, s1.ID}},
		{"limit", appid, u.ID, 2, []string{s3.ID, s2.ID}},
		{"zero limit", appid, u.ID, 0, nil},
		{"other app", appid + "x", u.ID, 10, nil},
		{"unknown user", appid, u.ID + 1_000_000, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.Sessions.UserSessions(ctx, tt.appid, tt.userID, tt.limit)
			if err != nil {
				t.Fatalf("UserSessions: %v", err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
				if s.ID == s2.ID && !s.RevokedAt.Equal(ms(at(5*time.Minute))) {
					t.Errorf("revoked session: revoked_at %v", s.RevokedAt)
				}
				if s.ID == s1.ID {
					sameSession(t, s, s1)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("sessions = %v, want %v", ids, tt.want)
			}
		})
	}
}

// testMessages checks newest-first paging by the id cursor, the status
// filter and the app boundary.
func testMessages(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t).Messages
	appid := appID(t)
	var ids []string // newest first
	for i := range 5 {
		m := newMessage(t, appid, at(0))
		m.CreatedAt = at(time.Duration(i) * time.Second)
		mustCreateMessage(t, st, m)
		ids = append([]string{m.ID}, ids...)
		mustCreateMessage(t, st, newMessage(t, appid+"x", at(0)))
	}
	// Two messages created in the same millisecond are ordered by id.
	same1, same2 := newMessage(t, appid, at(0)), newMessage(t, appid, at(0))
	same1.ID, same2.ID = "msg-same-a-"+randomHex(t, 4), "msg-same-b-"+randomHex(t, 4)
	same1.CreatedAt, same2.CreatedAt = at(time.Hour), at(time.Hour)
	mustCreateMessage(t, st, same1)
	mustCreateMessage(t, st, same2)
	ids = append([]string{same2.ID, same1.ID}, ids...)
	mustClaim(t, st, ids[3], at(time.Hour))
	mustFinish(t, st, ids[3], miniback.MessageOutcome{Status: miniback.MessageFailed, Error: "x", Now: at(time.Hour)})

	tests := []struct {
		name string
		q    miniback.MessageQuery
		want []string
	}{
		{"first page", miniback.MessageQuery{Limit: 3}, ids[:3]},
		{"second page", miniback.MessageQuery{Before: ids[2], Limit: 3}, ids[3:6]},
		{"last page", miniback.MessageQuery{Before: ids[5], Limit: 3}, ids[6:]},
		{"after the same-time pair", miniback.MessageQuery{Before: ids[0], Limit: 1}, ids[1:2]},
		{"status", miniback.MessageQuery{Status: miniback.MessageFailed, Limit: 10}, ids[3:4]},
		{"status queued", miniback.MessageQuery{Status: miniback.MessageQueued, Limit: 2}, ids[:2]},
		{"unknown cursor", miniback.MessageQuery{Before: "msg-nope", Limit: 10}, nil},
		{"zero limit", miniback.MessageQuery{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := st.Messages(ctx, appid, tt.q)
			if err != nil {
				t.Fatalf("Messages: %v", err)
			}
			var got []string
			for _, m := range msgs {
				if m.AppID != appid {
					t.Errorf("message %s of app %q", m.ID, m.AppID)
				}
				got = append(got, m.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

// testStats checks every count, the since bound and the app boundary.
func testStats(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	u1 := mustUser(t, st.Users, appid, "o-1")
	mustUser(t, st.Users, appid, "o-2")
	mustUser(t, st.Users, appid+"x", "o-1")
	sessionAt(t, st.Sessions, u1, at(-time.Hour))
	sessionAt(t, st.Sessions, u1, at(time.Hour))
	sessionAt(t, st.Sessions, u1, at(2*time.Hour))
	mustAddInbox(t, st.Inbox, newInbox(appid, "old", at(-time.Minute)))
	mustAddInbox(t, st.Inbox, newInbox(appid, "new", at(time.Minute)))
	mustAddInbox(t, st.Inbox, newInbox(appid+"x", "new", at(time.Minute)))
	for range 2 {
		mustCreateMessage(t, st.Messages, newMessage(t, appid, at(0)))
	}
	sent := mustCreateMessage(t, st.Messages, newMessage(t, appid, at(0)))
	mustClaim(t, st.Messages, sent.ID, at(0))
	mustFinish(t, st.Messages, sent.ID, miniback.MessageOutcome{Status: miniback.MessageSent, Now: at(0)})

	got, err := st.Stats.Stats(ctx, appid, at(0))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := "users=2 logins=2 pushes=1 outbound=map[failed:0 queued:2 sending:0 sent:1]"
	if s := fmt.Sprintf("users=%d logins=%d pushes=%d outbound=%v", got.Users, got.Logins, got.Pushes, got.Outbound); s != want {
		t.Errorf("Stats = %s, want %s", s, want)
	}
	empty, err := st.Stats.Stats(ctx, appid+"y", at(0))
	if err != nil {
		t.Fatalf("Stats of an empty app: %v", err)
	}
	if s := fmt.Sprintf("users=%d logins=%d pushes=%d outbound=%v", empty.Users, empty.Logins, empty.Pushes, empty.Outbound); s != "users=0 logins=0 pushes=0 outbound=map[failed:0 queued:0 sending:0 sent:0]" {
		t.Errorf("Stats of an empty app = %s", s)
	}
}
