package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.StatsStore = (*StatsStore)(nil)

// StatsStore counts an app's rows for the admin overview. It is safe for
// concurrent use.
type StatsStore struct {
	db *DB
}

// NewStatsStore returns a StatsStore on db, which must be open and migrated.
func NewStatsStore(db *DB) *StatsStore {
	return &StatsStore{db: db}
}

// Stats implements miniback.StatsStore with one read per table.
func (s *StatsStore) Stats(ctx context.Context, appid string, since time.Time) (*miniback.Stats, error) {
	st := &miniback.Stats{Outbound: map[string]int64{
		miniback.MessageQueued: 0, miniback.MessageSending: 0, miniback.MessageSent: 0, miniback.MessageFailed: 0,
	}}
	err := s.db.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE appid = ?),
		(SELECT COUNT(*) FROM sessions WHERE appid = ? AND created_at >= ?),
		(SELECT COUNT(*) FROM inbox WHERE appid = ? AND received_at >= ?)`,
		appid, appid, sqlrow.Millis(since), appid, sqlrow.Millis(since)).Scan(&st.Users, &st.Logins, &st.Pushes)
	if err != nil {
		return nil, fmt.Errorf("mysql: stats: %w", err)
	}
	rows, err := s.db.db.QueryContext(ctx,
		`SELECT status, COUNT(*) FROM messages WHERE appid = ? GROUP BY status`, appid)
	if err != nil {
		return nil, fmt.Errorf("mysql: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("mysql: stats: %w", err)
		}
		st.Outbound[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: stats: %w", err)
	}
	return st, nil
}
