package session

import (
	"context"
	"time"

	"github.com/miniback/miniback"
)

// Sessions returns inner with every write reported to l (Changed), or nil
// when inner is not a miniback.SessionReader: such a store cannot tell
// whose session a reused refresh token revokes, so its checks are not
// cached. Methods are written out one by one, not embedded, so a write
// method added to the interface cannot slip past the cache unnoticed.
func (l *Live) Sessions(inner miniback.SessionStore) *LiveSessions {
	r, ok := inner.(miniback.SessionReader)
	if !ok {
		return nil
	}
	return &LiveSessions{inner: inner, reader: r, live: l}
}

// LiveSessions is a SessionStore whose writes invalidate Live's entries.
type LiveSessions struct {
	inner  miniback.SessionStore
	reader miniback.SessionReader
	live   *Live
}

var (
	_ miniback.SessionStore  = (*LiveSessions)(nil)
	_ miniback.SessionReader = (*LiveSessions)(nil)
)

// changed marks userID changed after a write; a failure to mark is
// returned unless the write itself failed.
func (s *LiveSessions) changed(ctx context.Context, userID int64, err error) error {
	if merr := s.live.Changed(ctx, userID); merr != nil && err == nil {
		return merr
	}
	return err
}

// Login implements miniback.SessionStore. A returning user's other
// sessions get a new sealed key: they change.
func (s *LiveSessions) Login(ctx context.Context, l *miniback.Login) (*miniback.User, bool, error) {
	u, created, err := s.inner.Login(ctx, l)
	if err != nil || created {
		return u, created, err
	}
	return u, created, s.changed(ctx, u.ID, nil)
}

// CreateSession implements miniback.SessionStore: a new session has no
// entry to invalidate.
func (s *LiveSessions) CreateSession(ctx context.Context, sess *miniback.Session, rt *miniback.RefreshToken) error {
	return s.inner.CreateSession(ctx, sess, rt)
}

// Session implements miniback.SessionStore.
func (s *LiveSessions) Session(ctx context.Context, id string) (*miniback.Session, error) {
	return s.inner.Session(ctx, id)
}

// SessionUser implements miniback.SessionReader through the cache: the
// caller must have checked that id belongs to userID's token; use
// Live.SessionUser. This method reads the store.
func (s *LiveSessions) SessionUser(ctx context.Context, id string) (*miniback.Session, *miniback.User, error) {
	return s.reader.SessionUser(ctx, id)
}

// CachedSessionUser is the revocation check through the cache.
func (s *LiveSessions) CachedSessionUser(ctx context.Context, userID int64, id string) (LiveAnswer, error) {
	return s.live.SessionUser(ctx, userID, id, s.reader.SessionUser)
}

// RefreshTokenSession implements miniback.SessionReader.
func (s *LiveSessions) RefreshTokenSession(ctx context.Context, hash []byte) (*miniback.Session, error) {
	return s.reader.RefreshTokenSession(ctx, hash)
}

// RotateRefreshToken implements miniback.SessionStore. A reused token
// revokes its session inside the store, so the session is looked up
// first: when the rotation is refused, its user is marked changed. When
// the lookup itself fails nothing is rotated.
func (s *LiveSessions) RotateRefreshToken(ctx context.Context, oldHash []byte, next *miniback.RefreshToken, now time.Time) (*miniback.Session, error) {
	owner, err := s.reader.RefreshTokenSession(ctx, oldHash)
	if err != nil && !miniback.IsNotFound(err) {
		return nil, err
	}
	sess, err := s.inner.RotateRefreshToken(ctx, oldHash, next, now)
	if err != nil && owner != nil {
		return nil, s.changed(ctx, owner.UserID, err)
	}
	return sess, err
}

// RevokeSession implements miniback.SessionStore.
func (s *LiveSessions) RevokeSession(ctx context.Context, id string, now time.Time) error {
	sess, err := s.inner.Session(ctx, id)
	if err != nil {
		if miniback.IsNotFound(err) {
			return s.inner.RevokeSession(ctx, id, now) // its own not_found
		}
		return err
	}
	return s.changed(ctx, sess.UserID, s.inner.RevokeSession(ctx, id, now))
}

// UserSessions implements miniback.SessionStore.
func (s *LiveSessions) UserSessions(ctx context.Context, appid string, userID int64, limit int) ([]*miniback.Session, error) {
	return s.inner.UserSessions(ctx, appid, userID, limit)
}

// SetSessionKey implements miniback.SessionStore.
func (s *LiveSessions) SetSessionKey(ctx context.Context, userID int64, sealed []byte) error {
	return s.changed(ctx, userID, s.inner.SetSessionKey(ctx, userID, sealed))
}

// Users returns inner with every write reported to l.
func (l *Live) Users(inner miniback.UserStore) *LiveUsers {
	return &LiveUsers{inner: inner, live: l}
}

// LiveUsers is a UserStore whose writes invalidate Live's entries.
type LiveUsers struct {
	inner miniback.UserStore
	live  *Live
}

var _ miniback.UserStore = (*LiveUsers)(nil)

// UpsertLogin implements miniback.UserStore.
func (u *LiveUsers) UpsertLogin(ctx context.Context, appid, openid, unionid string, now time.Time) (*miniback.User, bool, error) {
	user, created, err := u.inner.UpsertLogin(ctx, appid, openid, unionid, now)
	if err != nil || created {
		return user, created, err
	}
	return user, created, u.live.Changed(ctx, user.ID)
}

// User implements miniback.UserStore.
func (u *LiveUsers) User(ctx context.Context, appid string, id int64) (*miniback.User, error) {
	return u.inner.User(ctx, appid, id)
}

// UserByOpenID implements miniback.UserStore.
func (u *LiveUsers) UserByOpenID(ctx context.Context, appid, openid string) (*miniback.User, error) {
	return u.inner.UserByOpenID(ctx, appid, openid)
}

// UpdateUser implements miniback.UserStore. The user is marked changed
// whatever the outcome: a failed write may still have committed.
func (u *LiveUsers) UpdateUser(ctx context.Context, appid string, id int64, upd miniback.UserUpdate) (*miniback.User, error) {
	user, err := u.inner.UpdateUser(ctx, appid, id, upd)
	if merr := u.live.Changed(ctx, id); merr != nil && err == nil {
		return nil, merr
	}
	return user, err
}

// Users implements miniback.UserStore.
func (u *LiveUsers) Users(ctx context.Context, appid string, afterID int64, limit int) ([]*miniback.User, error) {
	return u.inner.Users(ctx, appid, afterID, limit)
}
