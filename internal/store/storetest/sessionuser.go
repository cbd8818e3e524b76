package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// testSessionUser checks miniback.SessionReader, for engines that
// implement it: the session and its user in one read, the same as Session
// and User give, revocation seen at once, not_found for a missing session.
func testSessionUser(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	su, ok := st.Sessions.(miniback.SessionReader)
	if !ok {
		t.Skip("this engine reads the session and the user separately")
	}
	f := newFamily(t, st.Users, st.Sessions)
	nick := "nick"
	want, err := st.Users.UpdateUser(ctx, f.sess.AppID, f.sess.UserID, miniback.UserUpdate{Nickname: &nick})
	if err != nil {
		t.Fatal(err)
	}
	sess, u, err := su.SessionUser(ctx, f.sess.ID)
	if err != nil {
		t.Fatalf("SessionUser: %v", err)
	}
	sameSession(t, sess, f.sess)
	sameUser(t, u, want)
	if sess.Revoked() {
		t.Error("new session is revoked")
	}
	if err := st.Sessions.RevokeSession(ctx, f.sess.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if sess, _, err = su.SessionUser(ctx, f.sess.ID); err != nil || !sess.RevokedAt.Equal(ms(at(time.Minute))) {
		t.Errorf("after revoke: %+v, %v", sess, err)
	}
	for _, id := range []string{f.sess.ID + "x", ""} {
		sess, u, err := su.SessionUser(ctx, id)
		wantCode(t, err, miniback.ECodeNotFound)
		if sess != nil || u != nil {
			t.Errorf("SessionUser(%q) = %+v, %+v with an error", id, sess, u)
		}
	}
}

// testRefreshTokenSession checks miniback.SessionReader's lookup of a
// refresh token's session, before and after the token is used.
func testRefreshTokenSession(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	sr, ok := st.Sessions.(miniback.SessionReader)
	if !ok {
		t.Skip("this engine does not implement SessionReader")
	}
	f := newFamily(t, st.Users, st.Sessions)
	got, err := sr.RefreshTokenSession(ctx, f.rt.Hash)
	if err != nil {
		t.Fatalf("RefreshTokenSession: %v", err)
	}
	sameSession(t, got, f.sess)
	if _, err := st.Sessions.RotateRefreshToken(ctx, f.rt.Hash, nextToken(t, f.sess.ID), at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err = sr.RefreshTokenSession(ctx, f.rt.Hash); err != nil || got.ID != f.sess.ID {
		t.Errorf("used token: %+v, %v", got, err)
	}
	got, err = sr.RefreshTokenSession(ctx, []byte("no such token"))
	wantCode(t, err, miniback.ECodeNotFound)
	if got != nil {
		t.Errorf("unknown token: %+v", got)
	}
}
