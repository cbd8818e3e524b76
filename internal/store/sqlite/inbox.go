package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
// InboxReceived and an empty m.Message as {}. The insert and, when the key
// is taken, the load of the existing row run in one IMMEDIATE transaction,
// so concurrent calls for one key see one row and one created=true.
func (s *InboxStore) AddInbox(ctx context.Context, m *miniback.InboxMessage) (bool, error) {
	if m.Status == "" {
		m.Status = miniback.InboxReceived
	}
	created := false
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := s.db.txRow(ctx, tx, `
			INSERT INTO inbox (appid, dedup_key, msg_type, event, from_user, create_time,
				message, status, error, received_at, handled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (appid, dedup_key) DO NOTHING
			RETURNING id`,
			m.AppID, m.DedupKey, m.MsgType, m.Event, m.FromUser, m.CreateTime,
			jsonText(m.Message), m.Status, m.Error, sqlrow.Millis(m.ReceivedAt), sqlrow.NullMillis(m.HandledAt)).
			Scan(&m.ID)
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return sqlrow.Inbox(s.db.txRow(ctx, tx,
			`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = ? AND dedup_key = ?`,
			m.AppID, m.DedupKey), m)
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: add inbox: %w", err)
	}
	if created && len(m.Message) == 0 {
		m.Message = json.RawMessage("{}") // as stored
	}
	return created, nil
}

// InboxMessage implements miniback.InboxStore.
func (s *InboxStore) InboxMessage(ctx context.Context, appid string, id int64) (*miniback.InboxMessage, error) {
	var m miniback.InboxMessage
	err := sqlrow.Inbox(s.db.readRow(ctx,
		`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = ? AND id = ?`, appid, id), &m)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errInboxNotFound()
	case err != nil:
		return nil, fmt.Errorf("sqlite: inbox message: %w", err)
	}
	return &m, nil
}

// Inbox implements miniback.InboxStore.
func (s *InboxStore) Inbox(ctx context.Context, appid string, q miniback.InboxQuery) ([]*miniback.InboxMessage, error) {
	if q.Limit <= 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE appid = ? AND (? = 0 OR id < ?) AND (? = '' OR msg_type = ?) AND (? = '' OR status = ?)
		ORDER BY id DESC LIMIT ?`,
		appid, q.BeforeID, q.BeforeID, q.MsgType, q.MsgType, q.Status, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox: %w", err)
	}
	return msgs, nil
}

// FinishInbox implements miniback.InboxStore.
func (s *InboxStore) FinishInbox(ctx context.Context, id int64, status, errText string, now time.Time) error {
	res, err := s.db.writeExec(ctx,
		`UPDATE inbox SET status = ?, error = ?, handled_at = ? WHERE id = ?`,
		status, errText, sqlrow.Millis(now), id)
	if err != nil {
		return fmt.Errorf("sqlite: finish inbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: finish inbox: %w", err)
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
		WHERE status = ? AND received_at < ? ORDER BY received_at, id LIMIT ?`,
		miniback.InboxReceived, sqlrow.Millis(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stale inbox: %w", err)
	}
	return msgs, nil
}

// query runs a select of sqlrow.InboxColumns on the read pool.
func (s *InboxStore) query(ctx context.Context, query string, args ...any) ([]*miniback.InboxMessage, error) {
	rows, err := s.db.read.QueryContext(ctx, query, args...)
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

// idArray returns ids as a JSON array, for json_each: one statement text
// (prepared once) for any number of ids.
func idArray(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// InboxMessages implements miniback.InboxStore.
func (s *InboxStore) InboxMessages(ctx context.Context, appid string, ids []int64) ([]*miniback.InboxMessage, error) {
	if len(ids) == 0 {
		return []*miniback.InboxMessage{}, nil
	}
	st, err := s.db.readStmts.prepare(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE appid = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox messages: %w", err)
	}
	rows, err := st.QueryContext(ctx, appid, idArray(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: inbox messages: %w", err)
	}
	defer rows.Close()
	msgs := make([]*miniback.InboxMessage, 0, len(ids))
	for rows.Next() {
		var m miniback.InboxMessage
		if err := sqlrow.Inbox(rows, &m); err != nil {
			return nil, fmt.Errorf("sqlite: inbox messages: %w", err)
		}
		msgs = append(msgs, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: inbox messages: %w", err)
	}
	return msgs, nil
}

// FinishInboxes implements miniback.InboxStore.
func (s *InboxStore) FinishInboxes(ctx context.Context, ids []int64, status, errText string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	// Through withTx, so that the update shares a commit with the inserts
	// of the pushes arriving meanwhile.
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := s.db.txExec(ctx, tx,
			`UPDATE inbox SET status = ?, error = ?, handled_at = ? WHERE id IN (SELECT value FROM json_each(?))`,
			status, errText, sqlrow.Millis(now), idArray(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: finish inboxes: %w", err)
	}
	return nil
}
