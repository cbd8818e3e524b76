package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var (
	_ miniback.SessionStore  = (*SessionStore)(nil)
	_ miniback.SessionReader = (*SessionStore)(nil)
)

// SessionStore keeps sessions and refresh tokens in a DB. It is safe for
// concurrent use.
type SessionStore struct {
	db *DB
}

// NewSessionStore returns a SessionStore on db, which must be open and
// migrated.
func NewSessionStore(db *DB) *SessionStore {
	return &SessionStore{db: db}
}

// errInvalidRefresh is the one answer for every refresh token that may not
// be rotated; the caller learns nothing about why.
func errInvalidRefresh() error {
	return miniback.Errorf(miniback.ECodeInvalidRefresh, "invalid refresh token")
}

// Login implements miniback.SessionStore in one IMMEDIATE write
// transaction: the upsert, the key replacement and the new session commit
// together or not at all.
func (s *SessionStore) Login(ctx context.Context, l *miniback.Login) (*miniback.User, bool, error) {
	var u *miniback.User
	created := false
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if u, created, err = upsertLogin(ctx, s.db, tx, l.AppID, l.OpenID, l.UnionID, l.Now); err != nil {
			return err
		}
		sealed, err := l.Seal(u)
		if err != nil {
			return err
		}
		// A new user has no other session whose key to replace.
		if !created {
			if err := setSessionKey(ctx, s.db, tx, u.ID, sealed); err != nil {
				return err
			}
		}
		l.Session.UserID, l.Session.SealedSessionKey = u.ID, sealed
		l.RefreshToken.SessionID = l.Session.ID
		return insertSession(ctx, s.db, tx, l.Session, l.RefreshToken)
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: login: %w", err)
	}
	return u, created, nil
}

// CreateSession implements miniback.SessionStore: it stores s and rt, whose
// SessionID is taken to be s.ID, in one transaction. A duplicate session id
// or token hash is an Error with code conflict; a missing user is an Error
// with code not_found.
func (s *SessionStore) CreateSession(ctx context.Context, sess *miniback.Session, rt *miniback.RefreshToken) error {
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return insertSession(ctx, s.db, tx, sess, rt)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return nil
}

// insertSession stores sess and its refresh token rt.
func insertSession(ctx context.Context, db *DB, tx *sql.Tx, sess *miniback.Session, rt *miniback.RefreshToken) error {
	_, err := db.txExec(ctx, tx, `
		INSERT INTO sessions (`+sqlrow.SessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.AppID, sess.UserID, nonNilBytes(sess.SealedSessionKey),
		sqlrow.Millis(sess.CreatedAt), sqlrow.Millis(sess.ExpiresAt), sqlrow.NullMillis(sess.RevokedAt))
	if err != nil {
		return constraintError(err, "session")
	}
	return insertRefreshToken(ctx, db, tx, sess.ID, rt)
}

// insertRefreshToken stores rt in the family of sessionID.
func insertRefreshToken(ctx context.Context, db *DB, tx *sql.Tx, sessionID string, rt *miniback.RefreshToken) error {
	_, err := db.txExec(ctx, tx, `
		INSERT INTO refresh_tokens (hash, session_id, expires_at, used_at) VALUES (?, ?, ?, ?)`,
		rt.Hash, sessionID, sqlrow.Millis(rt.ExpiresAt), sqlrow.NullMillis(rt.UsedAt))
	return constraintError(err, "refresh token")
}

// Session implements miniback.SessionStore with one primary-key lookup on
// the read pool, cheap enough for a revocation check on every request.
func (s *SessionStore) Session(ctx context.Context, id string) (*miniback.Session, error) {
	sess, err := sqlrow.Session(s.db.readRow(ctx,
		`SELECT `+sqlrow.SessionColumns+` FROM sessions WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, miniback.Errorf(miniback.ECodeNotFound, "session not found")
	case err != nil:
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	return sess, nil
}

// sessionUserQuery reads a session and its user in one primary-key lookup
// of each table.
var sessionUserQuery = `SELECT s.id, s.appid, s.user_id, s.sealed_session_key, s.created_at, s.expires_at, s.revoked_at,
	u.id, u.appid, u.openid, u.unionid, u.nickname, u.avatar_url, u.phone_number, u.created_at, u.last_login_at
	FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`

// SessionUser implements miniback.SessionReader: the revocation check
// of every authenticated request and the user it acts for, in one prepared
// query on the read pool.
func (s *SessionStore) SessionUser(ctx context.Context, id string) (*miniback.Session, *miniback.User, error) {
	var sess miniback.Session
	var u miniback.User
	var sCreated, sExpires, uCreated, uLastLogin int64
	var revoked sql.NullInt64
	err := s.db.readRow(ctx, sessionUserQuery, id).Scan(
		&sess.ID, &sess.AppID, &sess.UserID, &sess.SealedSessionKey, &sCreated, &sExpires, &revoked,
		&u.ID, &u.AppID, &u.OpenID, &u.UnionID, &u.Nickname, &u.AvatarURL, &u.PhoneNumber, &uCreated, &uLastLogin)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil, miniback.Errorf(miniback.ECodeNotFound, "session not found")
	case err != nil:
		return nil, nil, fmt.Errorf("sqlite: session user: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt, sess.RevokedAt = sqlrow.FromMillis(sCreated), sqlrow.FromMillis(sExpires), sqlrow.FromNullMillis(revoked)
	u.CreatedAt, u.LastLoginAt = sqlrow.FromMillis(uCreated), sqlrow.FromMillis(uLastLogin)
	return &sess, &u, nil
}

// RefreshTokenSession implements miniback.SessionReader.
func (s *SessionStore) RefreshTokenSession(ctx context.Context, hash []byte) (*miniback.Session, error) {
	sess, err := sqlrow.Session(s.db.readRow(ctx, `SELECT s.id, s.appid, s.user_id, s.sealed_session_key, s.created_at, s.expires_at, s.revoked_at
		FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.hash = ?`, hash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, miniback.Errorf(miniback.ECodeNotFound, "refresh token not found")
	case err != nil:
		return nil, fmt.Errorf("sqlite: refresh token session: %w", err)
	}
	return sess, nil
}

// RotateRefreshToken implements miniback.SessionStore in one write
// transaction. A token that was already used means it leaked: the session
// is revoked, the revocation committed, and invalid_refresh_token returned.
// next is stored in the family of the old token whatever its SessionID.
func (s *SessionStore) RotateRefreshToken(ctx context.Context, oldHash []byte, next *miniback.RefreshToken, now time.Time) (*miniback.Session, error) {
	var sess *miniback.Session
	var reject error // committed, then returned
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		sess, reject, err = rotate(ctx, s.db, tx, oldHash, next, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: rotate refresh token: %w", err)
	}
	if reject != nil {
		return nil, reject
	}
	return sess, nil
}

// rotate does the work of RotateRefreshToken inside tx. It returns reject,
// with a nil err, when the transaction must still commit.
func rotate(ctx context.Context, db *DB, tx *sql.Tx, oldHash []byte, next *miniback.RefreshToken, now time.Time) (sess *miniback.Session, reject, err error) {
	var sessionID string
	var expires int64
	var used sql.NullInt64
	err = db.txRow(ctx, tx,
		`SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE hash = ?`, oldHash).
		Scan(&sessionID, &expires, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errInvalidRefresh(), nil
	case err != nil:
		return nil, nil, err
	case sqlrow.Millis(now) >= expires:
		return nil, errInvalidRefresh(), nil
	case used.Valid:
		if _, err := revoke(ctx, db, tx, sessionID, now); err != nil {
			return nil, nil, err
		}
		return nil, errInvalidRefresh(), nil
	}
	sess, err = sqlrow.Session(db.txRow(ctx, tx,
		`SELECT `+sqlrow.SessionColumns+` FROM sessions WHERE id = ?`, sessionID))
	if err != nil {
		return nil, nil, err
	}
	if sess.Revoked() || sqlrow.Millis(now) >= sqlrow.Millis(sess.ExpiresAt) {
		return nil, errInvalidRefresh(), nil
	}
	_, err = db.txExec(ctx, tx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ?`, sqlrow.Millis(now), oldHash)
	if err != nil {
		return nil, nil, err
	}
	if err := insertRefreshToken(ctx, db, tx, sessionID, next); err != nil {
		return nil, nil, err
	}
	return sess, nil, nil
}

// revoke sets revoked_at on session id unless it is already set, and
// reports whether the session exists.
func revoke(ctx context.Context, db *DB, tx *sql.Tx, id string, now time.Time) (bool, error) {
	res, err := db.txExec(ctx, tx,
		`UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, sqlrow.Millis(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// RevokeSession implements miniback.SessionStore. The first revocation time
// is kept when a session is revoked twice.
func (s *SessionStore) RevokeSession(ctx context.Context, id string, now time.Time) error {
	found := false
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		found, err = revoke(ctx, s.db, tx, id, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke session: %w", err)
	}
	if !found {
		return miniback.Errorf(miniback.ECodeNotFound, "session not found")
	}
	return nil
}

// UserSessions implements miniback.SessionStore. A limit of 0 or less
// returns no sessions.
func (s *SessionStore) UserSessions(ctx context.Context, appid string, userID int64, limit int) ([]*miniback.Session, error) {
	sessions := []*miniback.Session{}
	if limit <= 0 {
		return sessions, nil
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+sqlrow.SessionColumns+` FROM sessions
		WHERE appid = ? AND user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, appid, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: user sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		sess, err := sqlrow.Session(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: user sessions: %w", err)
		}
		sessions = append(sessions, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: user sessions: %w", err)
	}
	return sessions, nil
}

// SetSessionKey implements miniback.SessionStore. A live session is one not
// revoked; a user with no live session is not an error.
func (s *SessionStore) SetSessionKey(ctx context.Context, userID int64, sealed []byte) error {
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return setSessionKey(ctx, s.db, tx, userID, sealed)
	})
	if err != nil {
		return fmt.Errorf("sqlite: set session key: %w", err)
	}
	return nil
}

// setSessionKey does the work of SetSessionKey inside tx.
func setSessionKey(ctx context.Context, db *DB, tx *sql.Tx, userID int64, sealed []byte) error {
	_, err := db.txExec(ctx, tx,
		`UPDATE sessions SET sealed_session_key = ? WHERE user_id = ? AND revoked_at IS NULL`,
		nonNilBytes(sealed), userID)
	return err
}

// nonNilBytes turns nil into an empty slice, which the NOT NULL column takes.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
