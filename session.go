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

// SessionStore keeps sessions and their refresh tokens. Implementations are
// safe for concurrent use and write each method's rows in one transaction.
type SessionStore interface {
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
