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

var _ miniback.MediaStore = (*MediaStore)(nil)

// mediaCheckPending is the status of a media check awaiting its verdict.
const mediaCheckPending = "pending"

// MediaStore keeps media records, media checks and cached codes in a DB. It
// is safe for concurrent use.
type MediaStore struct {
	db *DB
}

// NewMediaStore returns a MediaStore on db, which must be open and migrated.
func NewMediaStore(db *DB) *MediaStore {
	return &MediaStore{db: db}
}

// notFound maps a missing row to a not_found Error naming what, and wraps
// other errors with op.
func notFound(err error, what, op string) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return miniback.Errorf(miniback.ECodeNotFound, "%s not found", what)
	case err != nil:
		return fmt.Errorf("mysql: %s: %w", op, err)
	}
	return nil
}

// AddMedia implements miniback.MediaStore with one upsert.
func (s *MediaStore) AddMedia(ctx context.Context, m *miniback.Media) error {
	_, err := s.db.db.ExecContext(ctx, `
		INSERT INTO media (appid, media_id, user_id, type, content_type, size, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE
			user_id = VALUES(user_id), type = VALUES(type),
			content_type = VALUES(content_type), size = VALUES(size),
			created_at = VALUES(created_at), expires_at = VALUES(expires_at)`,
		m.AppID, m.MediaID, m.UserID, m.Type, m.ContentType, m.Size,
		sqlrow.Millis(m.CreatedAt), sqlrow.Millis(m.ExpiresAt))
	if err != nil {
		return fmt.Errorf("mysql: add media: %w", err)
	}
	return nil
}

// Media implements miniback.MediaStore.
func (s *MediaStore) Media(ctx context.Context, appid, mediaID string) (*miniback.Media, error) {
	var m miniback.Media
	var created, expires int64
	err := s.db.db.QueryRowContext(ctx, `
		SELECT appid, media_id, user_id, type, content_type, size, created_at, expires_at
		FROM media WHERE appid = ? AND media_id = ?`, appid, mediaID).
		Scan(&m.AppID, &m.MediaID, &m.UserID, &m.Type, &m.ContentType, &m.Size, &created, &expires)
	if err := notFound(err, "media", "media"); err != nil {
		return nil, err
	}
	m.CreatedAt, m.ExpiresAt = sqlrow.FromMillis(created), sqlrow.FromMillis(expires)
	return &m, nil
}

// AddMediaCheck implements miniback.MediaStore. It sets c.Status to pending
// and clears c.Label and c.CheckedAt; an existing (appid, trace_id) is an
// Error with code conflict.
func (s *MediaStore) AddMediaCheck(ctx context.Context, c *miniback.MediaCheck) error {
	c.Status, c.Label, c.CheckedAt = mediaCheckPending, 0, time.Time{}
	_, err := s.db.db.ExecContext(ctx, `
		INSERT INTO media_checks (appid, trace_id, media_url, media_type, openid, status,
			label, created_at, checked_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL)`,
		c.AppID, c.TraceID, c.MediaURL, c.MediaType, c.OpenID, c.Status, sqlrow.Millis(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("mysql: add media check: %w", constraintError(err, "media check"))
	}
	return nil
}

// MediaCheck implements miniback.MediaStore.
func (s *MediaStore) MediaCheck(ctx context.Context, appid, traceID string) (*miniback.MediaCheck, error) {
	var c miniback.MediaCheck
	var created int64
	var checked sql.NullInt64
	err := s.db.db.QueryRowContext(ctx, `
		SELECT appid, trace_id, media_url, media_type, openid, status, label, created_at, checked_at
		FROM media_checks WHERE appid = ? AND trace_id = ?`, appid, traceID).
		Scan(&c.AppID, &c.TraceID, &c.MediaURL, &c.MediaType, &c.OpenID, &c.Status,
			&c.Label, &created, &checked)
	if err := notFound(err, "media check", "media check"); err != nil {
		return nil, err
	}
	c.CreatedAt, c.CheckedAt = sqlrow.FromMillis(created), sqlrow.FromNullMillis(checked)
	return &c, nil
}

// FinishMediaCheck implements miniback.MediaStore with one UPDATE; a
// repeated verdict overwrites the earlier one.
func (s *MediaStore) FinishMediaCheck(ctx context.Context, appid, traceID, status string, label int, now time.Time) error {
	res, err := s.db.db.ExecContext(ctx, `
		UPDATE media_checks SET status = ?, label = ?, checked_at = ?
		WHERE appid = ? AND trace_id = ?`,
		status, label, sqlrow.Millis(now), appid, traceID)
	if err != nil {
		return fmt.Errorf("mysql: finish media check: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mysql: finish media check: %w", err)
	}
	if n == 0 {
		return miniback.Errorf(miniback.ECodeNotFound, "media check not found")
	}
	return nil
}

// Code implements miniback.MediaStore.
func (s *MediaStore) Code(ctx context.Context, appid, key string) (*miniback.Code, error) {
	var c miniback.Code
	var created, used int64
	err := s.db.db.QueryRowContext(ctx, `
		SELECT appid, `+"`key`"+`, content_type, image, created_at, used_at FROM codes
		WHERE appid = ? AND `+"`key`"+` = ?`, appid, key).
		Scan(&c.AppID, &c.Key, &c.ContentType, &c.Image, &created, &used)
	if err := notFound(err, "code", "code"); err != nil {
		return nil, err
	}
	c.CreatedAt = sqlrow.FromMillis(created)
	s.markUsed(ctx, appid, key, used)
	return &c, nil
}

// codeUseGranularity is how stale a code's used_at may get before a read
// writes it again: reads of a popular code stay reads.
const codeUseGranularity = time.Hour

// markUsed moves the code's used_at to now when it is older than
// codeUseGranularity. A failure is ignored: the read succeeded, and the
// worst outcome is that the code is trimmed a little early.
func (s *MediaStore) markUsed(ctx context.Context, appid, key string, used int64) {
	now := sqlrow.Millis(s.db.Now())
	if now-used < codeUseGranularity.Milliseconds() {
		return
	}
	_, _ = s.db.db.ExecContext(ctx, `UPDATE codes SET used_at = ? WHERE appid = ? AND `+"`key`"+` = ? AND used_at < ?`,
		now, appid, key, now)
}

// PutCode implements miniback.MediaStore with one insert that leaves the
// row as it is when the key is taken.
func (s *MediaStore) PutCode(ctx context.Context, c *miniback.Code) error {
	_, err := s.db.db.ExecContext(ctx, `
		INSERT INTO codes (appid, `+"`key`"+`, content_type, image, created_at, used_at) VALUES (?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE appid = appid`,
		c.AppID, c.Key, c.ContentType, nonNilBytes(c.Image), sqlrow.Millis(c.CreatedAt), sqlrow.Millis(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("mysql: put code: %w", err)
	}
	return nil
}
