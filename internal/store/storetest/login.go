package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// newLogin returns a Login of openid in appid at now whose Seal binds the
// key to the user id, as the login handler does.
func newLogin(t *testing.T, appid, openid string, now time.Time) *miniback.Login {
	id := "s-" + randomHex(t, 12)
	return &miniback.Login{
		AppID: appid, OpenID: openid, Now: now,
		Session:      &miniback.Session{ID: id, AppID: appid, CreatedAt: now, ExpiresAt: now.Add(lifetime)},
		RefreshToken: &miniback.RefreshToken{Hash: randomBytes(t, 32), ExpiresAt: now.Add(lifetime)},
		Seal: func(u *miniback.User) ([]byte, error) {
			return []byte("sealed:" + openid + ":" + id), nil
		},
	}
}

// testLogin checks what one login writes: the user, the session with the
// sealed key, its refresh token, and the new key on the user's older live
// sessions.
func testLogin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	first := newLogin(t, appid, "o1", at(0))
	u, created, err := st.Sessions.Login(ctx, first)
	if err != nil || !created {
		t.Fatalf("first Login = %v, %v; want created", created, err)
	}
	sameUser(t, u, &miniback.User{ID: u.ID, AppID: appid, OpenID: "o1", CreatedAt: ms(at(0)), LastLoginAt: ms(at(0))})
	s1 := mustSession(t, st.Sessions, first.Session.ID)
	if s1.UserID != u.ID || string(s1.SealedSessionKey) != "sealed:o1:"+first.Session.ID {
		t.Fatalf("session = %+v", s1)
	}
	if _, err := st.Sessions.RotateRefreshToken(ctx, first.RefreshToken.Hash, nextToken(t, s1.ID), at(time.Minute)); err != nil {
		t.Fatalf("the login's refresh token does not rotate: %v", err)
	}

	second := newLogin(t, appid, "o1", at(time.Hour))
	second.UnionID = "u1"
	u2, created, err := st.Sessions.Login(ctx, second)
	if err != nil || created || u2.ID != u.ID || u2.UnionID != "u1" || !u2.LastLoginAt.Equal(ms(at(time.Hour))) {
		t.Fatalf("second Login = %+v, %v, %v", u2, created, err)
	}
	want := "sealed:o1:" + second.Session.ID
	for _, id := range []string{first.Session.ID, second.Session.ID} {
		if got := mustSession(t, st.Sessions, id).SealedSessionKey; string(got) != want {
			t.Errorf("session %s key = %q, want the newest %q", id, got, want)
		}
	}
}

// testLoginAtomic checks that a login that fails halfway writes nothing:
// not the user, not the older sessions' key.
func testLoginAtomic(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	appid := appID(t)

	t.Run("seal fails", func(t *testing.T) {
		boom := errors.New("seal failed")
		l := newLogin(t, appid, "o-new", at(0))
		l.Seal = func(*miniback.User) ([]byte, error) { return nil, boom }
		if _, _, err := st.Sessions.Login(ctx, l); !errors.Is(err, boom) {
			t.Fatalf("Login = %v, want the seal error", err)
		}
		_, err := st.Users.UserByOpenID(ctx, appid, "o-new")
		wantCode(t, err, miniback.ECodeNotFound)
	})

	t.Run("duplicate session id", func(t *testing.T) {
		first := newLogin(t, appid, "o1", at(0))
		if _, _, err := st.Sessions.Login(ctx, first); err != nil {
			t.Fatal(err)
		}
		again := newLogin(t, appid, "o1", at(time.Hour))
		again.Session.ID = first.Session.ID
		_, _, err := st.Sessions.Login(ctx, again)
		wantCode(t, err, miniback.ECodeConflict)
		u, err := st.Users.UserByOpenID(ctx, appid, "o1")
		if err != nil || !u.LastLoginAt.Equal(ms(at(0))) {
			t.Errorf("user after a failed login = %+v, %v; want last_login_at unchanged", u, err)
		}
		if got := mustSession(t, st.Sessions, first.Session.ID).SealedSessionKey; !bytes.Equal(got, []byte("sealed:o1:"+first.Session.ID)) {
			t.Errorf("older session key = %q, want it unchanged", got)
		}
		dup := newLogin(t, appid, "o2", at(0))
		dup.RefreshToken.Hash = first.RefreshToken.Hash
		_, _, err = st.Sessions.Login(ctx, dup)
		wantCode(t, err, miniback.ECodeConflict)
		_, err = st.Users.UserByOpenID(ctx, appid, "o2")
		wantCode(t, err, miniback.ECodeNotFound)
	})
}

// testLoginConcurrent checks that 10 concurrent first logins of one openid
// make one user, report created once, and store 10 sessions.
func testLoginConcurrent(t *testing.T, open OpenFunc) {
	const n = 10
	ctx := context.Background()
	st := open(t)
	appid := appID(t)
	logins := make([]*miniback.Login, n)
	for i := range logins {
		logins[i] = newLogin(t, appid, "same-openid", at(0))
	}
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			u, c, err := st.Sessions.Login(ctx, logins[i])
			errs[i], created[i] = err, c
			if err == nil {
				ids[i] = u.ID
			}
		})
	}
	close(start)
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Login %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("Login %d: user %d, want %d", i, ids[i], ids[0])
		}
		if created[i] {
			nCreated++
		}
		if s := mustSession(t, st.Sessions, logins[i].Session.ID); s.UserID != ids[0] {
			t.Errorf("session %d belongs to %d", i, s.UserID)
		}
	}
	if nCreated != 1 {
		t.Errorf("created = true %d times, want 1", nCreated)
	}
}
