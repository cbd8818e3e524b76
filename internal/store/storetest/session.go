package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// lifetime is how long the suite's sessions and refresh tokens live.
const lifetime = 30 * 24 * time.Hour

// family is a session created for a test, with its first refresh token.
type family struct {
	sess *miniback.Session
	rt   *miniback.RefreshToken
}

// newFamily creates a user and a live session for it with one refresh
// token; the session and token expire after lifetime.
func newFamily(t *testing.T, us miniback.UserStore, ss miniback.SessionStore) family {
	t.Helper()
	appid := appID(t)
	u := mustUser(t, us, appid, "o-"+randomHex(t, 4))
	return newFamilyFor(t, ss, u, at(lifetime), at(lifetime))
}

// newFamilyFor creates a session of u expiring at sessExp with one refresh
// token expiring at rtExp.
func newFamilyFor(t *testing.T, ss miniback.SessionStore, u *miniback.User, sessExp, rtExp time.Time) family {
	t.Helper()
	s := &miniback.Session{
		ID: "s-" + randomHex(t, 12), AppID: u.AppID, UserID: u.ID,
		SealedSessionKey: randomBytes(t, 48), CreatedAt: at(0), ExpiresAt: sessExp,
	}
	rt := &miniback.RefreshToken{Hash: randomBytes(t, 32), SessionID: s.ID, ExpiresAt: rtExp}
	if err := ss.CreateSession(context.Background(), s, rt); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return family{s, rt}
}

// nextToken returns a fresh refresh token for the family of sessionID.
func nextToken(t *testing.T, sessionID string) *miniback.RefreshToken {
	return &miniback.RefreshToken{Hash: randomBytes(t, 32), SessionID: sessionID, ExpiresAt: at(lifetime)}
}

// sameSession fails t unless got holds want's fields at ms precision.
func sameSession(t *testing.T, got, want *miniback.Session) {
	t.Helper()
	if got == nil {
		t.Fatal("session is nil")
	}
	if got.ID != want.ID || got.AppID != want.AppID || got.UserID != want.UserID ||
		!bytes.Equal(got.SealedSessionKey, want.SealedSessionKey) {
		t.Fatalf("session = %+v, want %+v", got, want)
	}
	if !got.CreatedAt.Equal(ms(want.CreatedAt)) || !got.ExpiresAt.Equal(ms(want.ExpiresAt)) ||
		!got.RevokedAt.Equal(ms(want.RevokedAt)) {
		t.Fatalf("session times = %v %v %v, want %v %v %v", got.CreatedAt, got.ExpiresAt, got.RevokedAt,
			want.CreatedAt, want.ExpiresAt, want.RevokedAt)
	}
}

// mustSession reads the session id.
func mustSession(t *testing.T, ss miniback.SessionStore, id string) *miniback.Session {
	t.Helper()
	s, err := ss.Session(context.Background(), id)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	return s
}

// testCreateSession checks what CreateSession stores and what it refuses.
func testCreateSession(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	t.Run("stores session and token", func(t *testing.T) {
		st := open(t)
		us, ss := st.Users, st.Sessions
		f := newFamily(t, us, ss)
		sameSession(t, mustSession(t, ss, f.sess.ID), f.sess)
		got, err := ss.RotateRefreshToken(ctx, f.rt.Hash, nextToken(t, f.sess.ID), at(time.Hour))
		if err != nil {
			t.Fatalf("RotateRefreshToken with the first token: %v", err)
		}
		sameSession(t, got, f.sess)
	})
	t.Run("duplicate session id", func(t *testing.T) {
		st := open(t)
		us, ss := st.Users, st.Sessions
		f := newFamily(t, us, ss)
		dup := *f.sess
		dup.SealedSessionKey = []byte("other")
		if err := ss.CreateSession(ctx, &dup, nextToken(t, dup.ID)); err == nil {
			t.Fatal("CreateSession with a duplicate id succeeded")
		}
		sameSession(t, mustSession(t, ss, f.sess.ID), f.sess)
	})
	t.Run("duplicate token hash writes nothing", func(t *testing.T) {
		st := open(t)
		us, ss := st.Users, st.Sessions
		f := newFamily(t, us, ss)
		s2 := *f.sess
		s2.ID = "s-" + randomHex(t, 12)
		rt := *f.rt
		rt.SessionID = s2.ID
		if err := ss.CreateSession(ctx, &s2, &rt); err == nil {
			t.Fatal("CreateSession with a duplicate token hash succeeded")
		}
		_, err := ss.Session(ctx, s2.ID)
		wantCode(t, err, miniback.ECodeNotFound)
	})
}

// testSession checks lookup and its not_found contract.
func testSession(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	us, ss := st.Users, st.Sessions
	f := newFamily(t, us, ss)
	tests := []struct {
		name, id, wantCode string
	}{
		{"found", f.sess.ID, ""},
		{"missing", f.sess.ID + "x", miniback.ECodeNotFound},
		{"empty id", "", miniback.ECodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ss.Session(ctx, tt.id)
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "" {
				sameSession(t, got, f.sess)
				if got.Revoked() {
					t.Error("new session is revoked")
				}
			} else if got != nil {
				t.Errorf("session = %+v with an error, want nil", got)
			}
		})
	}
}

// testRotateRefreshToken checks every outcome of one rotation.
func testRotateRefreshToken(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name        string
		sessExp     time.Time
		rtExp       time.Time
		prepare     func(t *testing.T, ss miniback.SessionStore, f family) (oldHash []byte)
		now         time.Time
		wantErr     bool
		wantRevoked bool
	}{
		{name: "valid", sessExp: at(lifetime), rtExp: at(lifetime), now: at(time.Hour)},
		{name: "unknown hash", sessExp: at(lifetime), rtExp: at(lifetime), now: at(time.Hour),
			prepare: func(t *testing.T, _ miniback.SessionStore, _ family) []byte { return randomBytes(t, 32) },
			wantErr: true},
		{name: "expired token", sessExp: at(lifetime), rtExp: at(time.Hour), now: at(time.Hour), wantErr: true},
		{name: "expired session", sessExp: at(time.Hour), rtExp: at(lifetime), now: at(2 * time.Hour), wantErr: true},
		{name: "used token revokes the session", sessExp: at(lifetime), rtExp: at(lifetime), now: at(2 * time.Hour),
			prepare: func(t *testing.T, ss miniback.SessionStore, f family) []byte {
				if _, err := ss.RotateRefreshToken(ctx, f.rt.Hash, nextToken(t, f.sess.ID), at(time.Hour)); err != nil {
					t.Fatalf("first rotation: %v", err)
				}
				return f.rt.Hash
			},
			wantErr: true, wantRevoked: true},
		{name: "revoked session", sessExp: at(lifetime), rtExp: at(lifetime), now: at(2 * time.Hour),
			prepare: func(t *testing.T, ss miniback.SessionStore, f family) []byte {
				if err := ss.RevokeSession(ctx, f.sess.ID, at(time.Hour)); err != nil {
					t.Fatalf("RevokeSession: %v", err)
				}
				return f.rt.Hash
			},
			wantErr: true, wantRevoked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := open(t)
			us, ss := st.Users, st.Sessions
			u := mustUser(t, us, appID(t), "o1")
			f := newFamilyFor(t, ss, u, tt.sessExp, tt.rtExp)
			old := f.rt.Hash
			if tt.prepare != nil {
				old = tt.prepare(t, ss, f)
			}
			next := nextToken(t, f.sess.ID)
			got, err := ss.RotateRefreshToken(ctx, old, next, tt.now)
			if tt.wantErr {
				wantCode(t, err, miniback.ECodeInvalidRefresh)
				if got != nil {
					t.Errorf("session = %+v with an error, want nil", got)
				}
				// next was not stored: it cannot be rotated.
				_, err := ss.RotateRefreshToken(ctx, next.Hash, nextToken(t, f.sess.ID), tt.now)
				wantCode(t, err, miniback.ECodeInvalidRefresh)
			} else {
				if err != nil {
					t.Fatalf("RotateRefreshToken: %v", err)
				}
				sameSession(t, got, f.sess)
			}
			if revoked := mustSession(t, ss, f.sess.ID).Revoked(); revoked != tt.wantRevoked {
				t.Errorf("session revoked = %v, want %v", revoked, tt.wantRevoked)
			}
		})
	}
}

// testRotateChain checks a chain of rotations, then that replaying a token
// from the middle of the chain revokes the family and kills its newest
// token.
func testRotateChain(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	us, ss := st.Users, st.Sessions
	f := newFamily(t, us, ss)
	hashes := [][]byte{f.rt.Hash}
	for i := range 5 {
		next := nextToken(t, f.sess.ID)
		got, err := ss.RotateRefreshToken(ctx, hashes[i], next, at(time.Duration(i+1)*time.Minute))
		if err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		sameSession(t, got, f.sess)
		hashes = append(hashes, next.Hash)
	}
	reuse := at(time.Hour)
	_, err := ss.RotateRefreshToken(ctx, hashes[2], nextToken(t, f.sess.ID), reuse)
	wantCode(t, err, miniback.ECodeInvalidRefresh)
	s := mustSession(t, ss, f.sess.ID)
	if !s.RevokedAt.Equal(ms(reuse)) {
		t.Errorf("revoked at %v, want %v", s.RevokedAt, ms(reuse))
	}
	_, err = ss.RotateRefreshToken(ctx, hashes[len(hashes)-1], nextToken(t, f.sess.ID), reuse)
	wantCode(t, err, miniback.ECodeInvalidRefresh)
}

// testRotateConcurrent checks that of concurrent rotations of one token
// exactly one succeeds, and that the losers' reuse revokes the family.
func testRotateConcurrent(t *testing.T, open OpenFunc) {
	const n = 10
	ctx := context.Background()
	st := open(t)
	us, ss := st.Users, st.Sessions
	f := newFamily(t, us, ss)
	nexts := make([]*miniback.RefreshToken, n)
	errs := make([]error, n)
	for i := range nexts {
		nexts[i] = nextToken(t, f.sess.ID)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = ss.RotateRefreshToken(ctx, f.rt.Hash, nexts[i], at(time.Minute))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("rotations %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		default:
			wantCode(t, err, miniback.ECodeInvalidRefresh)
		}
	}
	if winner < 0 {
		t.Fatal("no rotation succeeded")
	}
	if !mustSession(t, ss, f.sess.ID).Revoked() {
		t.Error("session not revoked after concurrent reuse")
	}
	_, err := ss.RotateRefreshToken(ctx, nexts[winner].Hash, nextToken(t, f.sess.ID), at(2*time.Minute))
	wantCode(t, err, miniback.ECodeInvalidRefresh)
}

// testRevokeSession checks revocation, its idempotence and not_found.
func testRevokeSession(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	us, ss := st.Users, st.Sessions
	f := newFamily(t, us, ss)
	first := at(time.Hour)
	if err := ss.RevokeSession(ctx, f.sess.ID, first); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	want := *f.sess
	want.RevokedAt = first
	sameSession(t, mustSession(t, ss, f.sess.ID), &want)
	if err := ss.RevokeSession(ctx, f.sess.ID, at(2*time.Hour)); err != nil {
		t.Fatalf("second RevokeSession: %v", err)
	}
	// The first revocation time is the one kept.
	sameSession(t, mustSession(t, ss, f.sess.ID), &want)
	_, err := ss.RotateRefreshToken(ctx, f.rt.Hash, nextToken(t, f.sess.ID), at(3*time.Hour))
	wantCode(t, err, miniback.ECodeInvalidRefresh)
	wantCode(t, ss.RevokeSession(ctx, f.sess.ID+"x", first), miniback.ECodeNotFound)
}

// testSetSessionKey checks that the key changes on every live session of
// the user and nowhere else.
func testSetSessionKey(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t)
	us, ss := st.Users, st.Sessions
	appid := appID(t)
	u := mustUser(t, us, appid, "o1")
	other := mustUser(t, us, appid, "o2")
	live1 := newFamilyFor(t, ss, u, at(lifetime), at(lifetime))
	live2 := newFamilyFor(t, ss, u, at(lifetime), at(lifetime))
	revoked := newFamilyFor(t, ss, u, at(lifetime), at(lifetime))
	others := newFamilyFor(t, ss, other, at(lifetime), at(lifetime))
	if err := ss.RevokeSession(ctx, revoked.sess.ID, at(time.Minute)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	sealed := []byte("new sealed key")
	if err := ss.SetSessionKey(ctx, u.ID, sealed); err != nil {
		t.Fatalf("SetSessionKey: %v", err)
	}
	tests := []struct {
		name string
		f    family
		want []byte
	}{
		{"live session", live1, sealed},
		{"second live session", live2, sealed},
		{"revoked session", revoked, revoked.sess.SealedSessionKey},
		{"other user", others, others.sess.SealedSessionKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustSession(t, ss, tt.f.sess.ID).SealedSessionKey
			if !bytes.Equal(got, tt.want) {
				t.Errorf("key = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("user without sessions", func(t *testing.T) {
		if err := ss.SetSessionKey(ctx, u.ID+1000, sealed); err != nil {
			t.Errorf("SetSessionKey: %v", err)
		}
	})
}
