package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.UserStore = (*UserStore)(nil)

// UserStore keeps users in a DB. It is safe for concurrent use.
type UserStore struct {
	db *DB
}

// NewUserStore returns a UserStore on db, which must be open and migrated.
func NewUserStore(db *DB) *UserStore {
	return &UserStore{db: db}
}

// userColumns lists the columns scanUser reads, in its order.
const userColumns = `id, appid, openid, unionid, nickname, avatar_url, phone_number, created_at, last_login_at`

// scanUser reads one row of userColumns.
func scanUser(r sqlrow.Scanner) (*miniback.User, error) {
	var u miniback.User
	var created, lastLogin int64
	err := r.Scan(&u.ID, &u.AppID, &u.OpenID, &u.UnionID, &u.Nickname,
		&u.AvatarURL, &u.PhoneNumber, &created, &lastLogin)
	if err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLoginAt = sqlrow.FromMillis(created), sqlrow.FromMillis(lastLogin)
	return &u, nil
}

// errUserNotFound is the answer for a missing user.
func errUserNotFound() error {
	return miniback.Errorf(miniback.ECodeNotFound, "user not found")
}

// UpsertLogin implements miniback.UserStore. The insert is tried first;
// when the unique key (appid, openid) refuses it (InnoDB makes a concurrent
// inserter wait for the first to commit), the row is updated instead, so
// concurrent logins of one openid on any instances yield one row and
// exactly one created=true.
func (s *UserStore) UpsertLogin(ctx context.Context, appid, openid, unionid string, now time.Time) (*miniback.User, bool, error) {
	var u *miniback.User
	created := false
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, created, err = upsertLogin(ctx, tx, appid, openid, unionid, now)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("mysql: upsert login: %w", err)
	}
	return u, created, nil
}

// upsertLogin does the work of UpsertLogin inside tx.
func upsertLogin(ctx context.Context, tx *sql.Tx, appid, openid, unionid string, now time.Time) (*miniback.User, bool, error) {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO users (appid, openid, unionid, avatar_url, created_at, last_login_at)
		VALUES (?, ?, ?, '', ?, ?)`,
		appid, openid, unionid, sqlrow.Millis(now), sqlrow.Millis(now))
	created := err == nil
	if err != nil && !isDuplicate(err) {
		return nil, false, err
	}
	if !created {
		_, err = tx.ExecContext(ctx, `
			UPDATE users SET
				unionid = CASE WHEN ? <> '' THEN ? ELSE unionid END,
				last_login_at = ?
			WHERE appid = ? AND openid = ?`,
			unionid, unionid, sqlrow.Millis(now), appid, openid)
		if err != nil {
			return nil, false, err
		}
	}
	u, err := scanUser(tx.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = ? AND openid = ?`, appid, openid))
	return u, created, err
}

// User implements miniback.UserStore.
func (s *UserStore) User(ctx context.Context, appid string, id int64) (*miniback.User, error) {
	u, err := scanUser(s.db.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = ? AND id = ?`, appid, id))
	return userResult(u, err, "user")
}

// UserByOpenID implements miniback.UserStore.
func (s *UserStore) UserByOpenID(ctx context.Context, appid, openid string) (*miniback.User, error) {
	u, err := scanUser(s.db.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = ? AND openid = ?`, appid, openid))
	return userResult(u, err, "user by openid")
}

// UpdateUser implements miniback.UserStore; nil fields of upd keep their
// value.
func (s *UserStore) UpdateUser(ctx context.Context, appid string, id int64, upd miniback.UserUpdate) (*miniback.User, error) {
	var u *miniback.User
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
			UPDATE users SET
				nickname     = COALESCE(?, nickname),
				avatar_url   = COALESCE(?, avatar_url),
				phone_number = COALESCE(?, phone_number)
			WHERE appid = ? AND id = ?`,
			nullString(upd.Nickname), nullString(upd.AvatarURL), nullString(upd.PhoneNumber), appid, id)
		if err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx,
			`SELECT `+userColumns+` FROM users WHERE appid = ? AND id = ?`, appid, id))
		return err
	})
	return userResult(u, err, "update user")
}

// Users implements miniback.UserStore. A limit of 0 or less returns no users.
func (s *UserStore) Users(ctx context.Context, appid string, afterID int64, limit int) ([]*miniback.User, error) {
	users := []*miniback.User{}
	if limit <= 0 {
		return users, nil
	}
	rows, err := s.db.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = ? AND id > ? ORDER BY id LIMIT ?`,
		appid, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("mysql: users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("mysql: users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: users: %w", err)
	}
	return users, nil
}

// userResult maps a missing row to not_found and wraps other errors with op.
func userResult(u *miniback.User, err error, op string) (*miniback.User, error) {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errUserNotFound()
	case err != nil:
		return nil, fmt.Errorf("mysql: %s: %w", op, err)
	}
	return u, nil
}

// nullString converts a nil pointer to NULL.
func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}
