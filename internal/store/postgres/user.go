package postgres

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

// scanUser reads one row of userColumns, plus the extra destinations.
func scanUser(r sqlrow.Scanner, extra ...any) (*miniback.User, error) {
	var u miniback.User
	var created, lastLogin int64
	dest := append([]any{&u.ID, &u.AppID, &u.OpenID, &u.UnionID, &u.Nickname,
		&u.AvatarURL, &u.PhoneNumber, &created, &lastLogin}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	u.CreatedAt, u.LastLoginAt = sqlrow.FromMillis(created), sqlrow.FromMillis(lastLogin)
	return &u, nil
}

// errUserNotFound is the answer for a missing user.
func errUserNotFound() error {
	return miniback.Errorf(miniback.ECodeNotFound, "user not found")
}

// UpsertLogin implements miniback.UserStore with one INSERT … ON CONFLICT
// DO UPDATE: concurrent logins of one openid, on any instance, yield one
// row and exactly one created=true. xmax is 0 only for a row this statement
// inserted.
func (s *UserStore) UpsertLogin(ctx context.Context, appid, openid, unionid string, now time.Time) (*miniback.User, bool, error) {
	u, created, err := upsertLogin(ctx, s.db.db, appid, openid, unionid, now)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: upsert login: %w", err)
	}
	return u, created, nil
}

// queryRower is a *sql.DB or a *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// upsertLogin does the work of UpsertLogin on q.
func upsertLogin(ctx context.Context, q queryRower, appid, openid, unionid string, now time.Time) (*miniback.User, bool, error) {
	var created bool
	u, err := scanUser(q.QueryRowContext(ctx, `
		INSERT INTO users AS u (appid, openid, unionid, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (appid, openid) DO UPDATE SET
			unionid = CASE WHEN EXCLUDED.unionid <> '' THEN EXCLUDED.unionid ELSE u.unionid END,
			last_login_at = EXCLUDED.last_login_at
		RETURNING `+userColumns+`, (xmax = 0)`,
		appid, openid, unionid, sqlrow.Millis(now)), &created)
	return u, created, err
}

// User implements miniback.UserStore.
func (s *UserStore) User(ctx context.Context, appid string, id int64) (*miniback.User, error) {
	u, err := scanUser(s.db.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = $1 AND id = $2`, appid, id))
	return userResult(u, err, "user")
}

// UserByOpenID implements miniback.UserStore.
func (s *UserStore) UserByOpenID(ctx context.Context, appid, openid string) (*miniback.User, error) {
	u, err := scanUser(s.db.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = $1 AND openid = $2`, appid, openid))
	return userResult(u, err, "user by openid")
}

// UpdateUser implements miniback.UserStore; nil fields of upd keep their
// value.
func (s *UserStore) UpdateUser(ctx context.Context, appid string, id int64, upd miniback.UserUpdate) (*miniback.User, error) {
	u, err := scanUser(s.db.db.QueryRowContext(ctx, `
		UPDATE users SET
			nickname     = COALESCE($1, nickname),
			avatar_url   = COALESCE($2, avatar_url),
			phone_number = COALESCE($3, phone_number)
		WHERE appid = $4 AND id = $5
		RETURNING `+userColumns,
		nullString(upd.Nickname), nullString(upd.AvatarURL), nullString(upd.PhoneNumber), appid, id))
	return userResult(u, err, "update user")
}

// Users implements miniback.UserStore. A limit of 0 or less returns no users.
func (s *UserStore) Users(ctx context.Context, appid string, afterID int64, limit int) ([]*miniback.User, error) {
	users := []*miniback.User{}
	if limit <= 0 {
		return users, nil
	}
	rows, err := s.db.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE appid = $1 AND id > $2 ORDER BY id LIMIT $3`,
		appid, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	return users, nil
}

// userResult maps a missing row to not_found and wraps other errors with op.
func userResult(u *miniback.User, err error, op string) (*miniback.User, error) {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errUserNotFound()
	case err != nil:
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
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
