package postgres

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
		(SELECT COUNT(*) FROM users WHERE appid = $1),
		(SELECT COUNT(*) FROM sessions WHERE appid = $1 AND created_at >= $2),
		(SELECT COUNT(*) FROM inbox WHERE appid = $1 AND received_at >= $2)`,
		appid, sqlrow.Millis(since)).Scan(&st.Users, &st.Logins, &st.Pushes)
	if err != nil {
		return nil, fmt.Errorf("postgres: stats: %w", err)
	}
	rows, err := s.db.db.QueryContext(ctx,
		`SELECT status, COUNT(*) FROM messages WHERE appid = $1 GROUP BY status`, appid)
	if err != nil {
		return nil, fmt.Errorf("postgres: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("postgres: stats: %w", err)
		}
		st.Outbound[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: stats: %w", err)
	}
	return st, nil
}
