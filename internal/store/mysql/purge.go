package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.PurgeStore = (*PurgeStore)(nil)

// PurgeStore deletes old rows of a DB in batches. It is safe for
// concurrent use.
type PurgeStore struct {
	db *DB
}

// NewPurgeStore returns a PurgeStore on db, which must be open and migrated.
func NewPurgeStore(db *DB) *PurgeStore {
	return &PurgeStore{db: db}
}

// deleted runs one batch delete (MySQL's single-table DELETE … LIMIT) and
// counts its rows.
func (s *PurgeStore) deleted(ctx context.Context, op, query string, args ...any) (int, error) {
	res, err := s.db.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("mysql: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysql: %s: %w", op, err)
	}
	return int(n), nil
}

// PurgeSessions implements miniback.PurgeStore; the refresh tokens go by
// ON DELETE CASCADE.
func (s *PurgeStore) PurgeSessions(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error) {
	return s.deleted(ctx, "purge sessions", `DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ?`,
		sqlrow.Millis(expiredBefore), sqlrow.Millis(revokedBefore), limit)
}

// PurgeInbox implements miniback.PurgeStore.
func (s *PurgeStore) PurgeInbox(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleted(ctx, "purge inbox", `DELETE FROM inbox WHERE status IN (?, ?) AND received_at < ? LIMIT ?`,
		miniback.InboxHandled, miniback.InboxFailed, sqlrow.Millis(before), limit)
}

// PurgeMessages implements miniback.PurgeStore.
func (s *PurgeStore) PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleted(ctx, "purge messages", `DELETE FROM messages WHERE status IN (?, ?) AND created_at < ? LIMIT ?`,
		miniback.MessageSent, miniback.MessageFailed, sqlrow.Millis(before), limit)
}

// TrimCodes implements miniback.PurgeStore.
func (s *PurgeStore) TrimCodes(ctx context.Context, keep, limit int) (int, error) {
	var n int
	if err := s.db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM codes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("mysql: trim codes: %w", err)
	}
	if n <= keep {
		return 0, nil
	}
	return s.deleted(ctx, "trim codes", `DELETE FROM codes ORDER BY used_at LIMIT ?`, min(n-keep, limit))
}
