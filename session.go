package miniback

import (
	"context"
	"time"
)

// Session is one sign-in of a user: the family of refresh tokens issued from
// one login. SealedSessionKey is the WeChat session_key encrypted at rest; it
// is never put into an answer or a log.
type Session struct {
	ID               string
	AppID            string
	UserID           int64
	SealedSessionKey []byte
	CreatedAt        time.Time
	ExpiresAt        time.Time
	RevokedAt        time.Time // zero while the session is live
}

// Revoked reports whether the session was revoked.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// RefreshToken is the stored form of an opaque refresh token: only its hash.
type RefreshToken struct {
	Hash      []byte
	SessionID string
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
}

// Login is everything one wx.login exchange writes (SessionStore.Login).
type Login struct {
	// AppID, OpenID and UnionID name the user, as code2session answered.
	AppID, OpenID, UnionID string
	// Now stamps the user's last_login_at (and created_at when new).
	Now time.Time
	// Session is the new session. Login sets its UserID and
	// SealedSessionKey; ID, AppID, CreatedAt and ExpiresAt are the
	// caller's.
	Session *Session
	// RefreshToken is the session's first refresh token; Login sets its
	// SessionID.
	RefreshToken *RefreshToken
	// Seal returns the sealed WeChat session key of the user u. It is
	// called once, inside the transaction, because the seal is bound to
	// the user id that only the upsert knows. It must not use the store;
	// an error from it rolls the whole login back and is returned as is.
	Seal func(u *User) ([]byte, error)
}

// SessionStore keeps sessions and their refresh tokens. Implementations are
// safe for concurrent use and write each method's rows in one transaction.
type SessionStore interface {
	// Login signs a user in, in one transaction: it creates the user of
	// (AppID, OpenID) or, when it exists, sets its unionid (when
	// non-empty) and last_login_at (as UserStore.UpsertLogin); seals the
	// session key with l.Seal; replaces the sealed key of every live
	// session of the user (as SetSessionKey); and stores l.Session with
	// l.RefreshToken (as CreateSession). Either all of it is written or
	// nothing is. It returns the user and whether it was created; two
	// concurrent logins of one openid yield one user and one created=true.
	// A duplicate session id or token hash is an Error with code conflict.
	Login(ctx context.Context, l *Login) (u *User, created bool, err error)
	// CreateSession stores s and its first refresh token.
	CreateSession(ctx context.Context, s *Session, rt *RefreshToken) error
	// Session returns the session, or an Error with code not_found.
	Session(ctx context.Context, id string) (*Session, error)
	// RotateRefreshToken marks the token with oldHash used and stores next in
	// the same family, atomically. It returns the session. When the token is
	// unknown or expired it returns an Error with code invalid_refresh_token;
	// when it was already used, or its session is revoked, it revokes the
	// whole session and returns an Error with code invalid_refresh_token.
	RotateRefreshToken(ctx context.Context, oldHash []byte, next *RefreshToken, now time.Time) (*Session, error)
	// RevokeSession marks the session revoked; revoking twice is not an error.
	// It returns an Error with code not_found when there is no such session.
	RevokeSession(ctx context.Context, id string, now time.Time) error
	// UserSessions returns up to limit sessions of the user in appid, newest
	// first, revoked and expired ones included. A user without sessions (or
	// of another app) has none; that is not an error.
	UserSessions(ctx context.Context, appid string, userID int64, limit int) ([]*Session, error)
	// SetSessionKey replaces the sealed session key of every live session of
	// the user, because WeChat keeps only one valid session_key per user.
	SetSessionKey(ctx context.Context, userID int64, sealed []byte) error
}

// SessionReader is implemented by session stores whose reads let an
// instance cache its revocation check (session.Live). The authenticated
// routes check the session on every request (revocation is immediate);
// SessionUser gives them the user in the same read, and
// RefreshTokenSession lets the cache learn whose session a refresh with a
// reused token revokes. Stores without it are read twice per request and
// never cached.
type SessionReader interface {
	// SessionUser returns the session and its user, or an Error with code
	// not_found when there is no such session.
	SessionUser(ctx context.Context, id string) (*Session, *User, error)
	// RefreshTokenSession returns the session of the refresh token with
	// this hash, used or not, expired or not, or an Error with code
	// not_found.
	RefreshTokenSession(ctx context.Context, hash []byte) (*Session, error)
}
