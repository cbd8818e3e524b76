package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.InboxStore = (*InboxStore)(nil)

// InboxStore keeps received pushes in a DB. It is safe for concurrent use.
type InboxStore struct {
	db *DB
}

// NewInboxStore returns an InboxStore on db, which must be open and migrated.
func NewInboxStore(db *DB) *InboxStore {
	return &InboxStore{db: db}
}

// jsonText returns raw as stored text; an empty document is stored as {}.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// errInboxNotFound is the answer for a missing inbox message.
func errInboxNotFound() error {
	return miniback.Errorf(miniback.ECodeNotFound, "inbox message not found")
}

// AddInbox implements miniback.InboxStore. An empty m.Status is stored as
// InboxReceived and an empty m.Message as {}. The insert does nothing when
// the key is taken (ON CONFLICT DO NOTHING waits for a concurrent inserter
// to commit), and the existing row is then read: concurrent calls for one
// key, on any instances, see one row and one created=true.
func (s *InboxStore) AddInbox(ctx context.Context, m *miniback.InboxMessage) (bool, error) {
	if m.Status == "" {
		m.Status = miniback.InboxReceived
	}
	err := s.db.db.QueryRowContext(ctx, `
		INSERT INTO inbox (appid, dedup_key, msg_type, event, from_user, create_time,
			message, status, error, received_at, handled_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (appid, dedup_key) DO NOTHING
		RETURNING id`,
		m.AppID, m.DedupKey, m.MsgType, m.Event, m.FromUser, m.CreateTime,
		jsonText(m.Message), m.Status, m.Error, sqlrow.Millis(m.ReceivedAt), sqlrow.NullMillis(m.HandledAt)).
		Scan(&m.ID)
	if err == nil {
		if len(m.Message) == 0 {
			m.Message = json.RawMessage("{}") // as stored
		}
		return true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("postgres: add inbox: %w", err)
	}
	err = sqlrow.Inbox(s.db.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = $1 AND dedup_key = $2`,
		m.AppID, m.DedupKey), m)
	if err != nil {
		return false, fmt.Errorf("postgres: add inbox: %w", err)
	}
	return false, nil
}

// InboxMessage implements miniback.InboxStore.
func (s *InboxStore) InboxMessage(ctx context.Context, appid string, id int64) (*miniback.InboxMessage, error) {
	var m miniback.InboxMessage
	err := sqlrow.Inbox(s.db.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = $1 AND id = $2`, appid, id), &m)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errInboxNotFound()
	case err != nil:
		return nil, fmt.Errorf("postgres: inbox message: %w", err)
	}
	return &m, nil
}

// Inbox implements miniback.InboxStore.
func (s *InboxStore) Inbox(ctx context.Context, appid string, q miniback.InboxQuery) ([]*miniback.InboxMessage, error) {
	if q.Limit <= 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE appid = $1 AND ($2::BIGINT = 0 OR id < $2::BIGINT)
			AND ($3::TEXT = '' OR msg_type = $3) AND ($4::TEXT = '' OR status = $4)
		ORDER BY id DESC LIMIT $5`,
		appid, q.BeforeID, q.MsgType, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: inbox: %w", err)
	}
	return msgs, nil
}

// FinishInbox implements miniback.InboxStore.
func (s *InboxStore) FinishInbox(ctx context.Context, id int64, status, errText string, now time.Time) error {
	res, err := s.db.db.ExecContext(ctx,
		`UPDATE inbox SET status = $1, error = $2, handled_at = $3 WHERE id = $4`,
		status, errText, sqlrow.Millis(now), id)
	if err != nil {
		return fmt.Errorf("postgres: finish inbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("postgres: finish inbox: %w", err)
	}
	if n == 0 {
		return errInboxNotFound()
	}
	return nil
}

// StaleInbox implements miniback.InboxStore. A limit of 0 or less returns
// no messages.
func (s *InboxStore) StaleInbox(ctx context.Context, before time.Time, limit int) ([]*miniback.InboxMessage, error) {
	if limit <= 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE status = $1 AND received_at < $2 ORDER BY received_at, id LIMIT $3`,
		miniback.InboxReceived, sqlrow.Millis(before), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: stale inbox: %w", err)
	}
	return msgs, nil
}

// query runs a select of sqlrow.InboxColumns.
func (s *InboxStore) query(ctx context.Context, query string, args ...any) ([]*miniback.InboxMessage, error) {
	rows, err := s.db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	msgs := []*miniback.InboxMessage{}
	for rows.Next() {
		var m miniback.InboxMessage
		if err := sqlrow.Inbox(rows, &m); err != nil {
			return nil, err
		}
		msgs = append(msgs, &m)
	}
	return msgs, rows.Err()
}

// InboxMessages implements miniback.InboxStore.
func (s *InboxStore) InboxMessages(ctx context.Context, appid string, ids []int64) ([]*miniback.InboxMessage, error) {
	if len(ids) == 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE appid = $1 AND id = ANY($2::BIGINT[]) ORDER BY id`, appid, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: inbox messages: %w", err)
	}
	return msgs, nil
}

// FinishInboxes implements miniback.InboxStore.
func (s *InboxStore) FinishInboxes(ctx context.Context, ids []int64, status, errText string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.db.db.ExecContext(ctx,
		`UPDATE inbox SET status = $1, error = $2, handled_at = $3 WHERE id = ANY($4::BIGINT[])`,
		status, errText, sqlrow.Millis(now), ids); err != nil {
		return fmt.Errorf("postgres: finish inboxes: %w", err)
	}
	return nil
}
