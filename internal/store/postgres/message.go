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

var _ miniback.MessageStore = (*MessageStore)(nil)

// MessageStore keeps outbound messages in a DB. Every status change is one
// conditional UPDATE, so it is a compare-and-set even between instances. It
// is safe for concurrent use.
type MessageStore struct {
	db *DB
}

// NewMessageStore returns a MessageStore on db, which must be open and
// migrated.
func NewMessageStore(db *DB) *MessageStore {
	return &MessageStore{db: db}
}

// errMessageNotFound is the answer for a missing message.
func errMessageNotFound() error {
	return miniback.Errorf(miniback.ECodeNotFound, "message not found")
}

// CreateMessage implements miniback.MessageStore. It sets m.Status to
// queued; a zero m.NextAttemptAt is set to m.CreatedAt, so the message is
// due at once; an empty m.Payload is stored as {}.
func (s *MessageStore) CreateMessage(ctx context.Context, m *miniback.Message) error {
	m.Status = miniback.MessageQueued
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	m.Payload = json.RawMessage(jsonText(m.Payload))
	_, err := s.db.db.ExecContext(ctx, `
		INSERT INTO messages (`+sqlrow.MessageColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		m.ID, m.AppID, m.Kind, m.OpenID, string(m.Payload), m.Status, m.Attempts,
		m.WeChatErrCode, m.Error, m.WeChatMsgID, sqlrow.Millis(m.CreatedAt), sqlrow.NullMillis(m.SentAt),
		sqlrow.Millis(m.NextAttemptAt), sqlrow.NullMillis(m.ClaimedAt))
	if err != nil {
		return fmt.Errorf("postgres: create message: %w", constraintError(err, "message"))
	}
	return nil
}

// Message implements miniback.MessageStore.
func (s *MessageStore) Message(ctx context.Context, appid, id string) (*miniback.Message, error) {
	m, err := sqlrow.Message(s.db.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.MessageColumns+` FROM messages WHERE appid = $1 AND id = $2`, appid, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errMessageNotFound()
	case err != nil:
		return nil, fmt.Errorf("postgres: message: %w", err)
	}
	return m, nil
}

// Messages implements miniback.MessageStore.
func (s *MessageStore) Messages(ctx context.Context, appid string, q miniback.MessageQuery) ([]*miniback.Message, error) {
	msgs := []*miniback.Message{}
	if q.Limit <= 0 {
		return msgs, nil
	}
	rows, err := s.db.db.QueryContext(ctx, `
		SELECT `+sqlrow.MessageColumns+` FROM messages
		WHERE appid = $1 AND ($2::TEXT = '' OR status = $2)
			AND ($3::TEXT = '' OR (created_at, id) < (SELECT created_at, id FROM messages WHERE appid = $1 AND id = $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`,
		appid, q.Status, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := sqlrow.Message(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: messages: %w", err)
	}
	return msgs, nil
}

// ClaimMessage implements miniback.MessageStore with one conditional
// UPDATE; under READ COMMITTED a concurrent claimer waits for the first and
// then finds the row no longer queued. When it matches nothing, the
// current row is read. An unknown id is an Error with code not_found.
func (s *MessageStore) ClaimMessage(ctx context.Context, id string, now time.Time) (*miniback.Message, bool, error) {
	m, err := sqlrow.Message(s.db.db.QueryRowContext(ctx, `
		UPDATE messages SET status = $1, attempts = attempts + 1, claimed_at = $2
		WHERE id = $3 AND status = $4
		RETURNING `+sqlrow.MessageColumns,
		miniback.MessageSending, sqlrow.Millis(now), id, miniback.MessageQueued))
	if err == nil {
		return m, true, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		m, err = sqlrow.Message(s.db.db.QueryRowContext(ctx,
			`SELECT `+sqlrow.MessageColumns+` FROM messages WHERE id = $1`, id))
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, errMessageNotFound()
	case err != nil:
		return nil, false, fmt.Errorf("postgres: claim message: %w", err)
	}
	return m, false, nil
}

// FinishMessage implements miniback.MessageStore with one conditional
// UPDATE. SentAt is set to out.Now for MessageSent and NextAttemptAt to
// out.NextAttemptAt for MessageQueued. Any other out.Status is an Error with
// code invalid_request; an unknown id is an Error with code not_found.
func (s *MessageStore) FinishMessage(ctx context.Context, id string, out miniback.MessageOutcome) error {
	var sentAt, nextAt sql.NullInt64
	switch out.Status {
	case miniback.MessageSent:
		sentAt = sql.NullInt64{Int64: sqlrow.Millis(out.Now), Valid: true}
	case miniback.MessageQueued:
		nextAt = sql.NullInt64{Int64: sqlrow.Millis(out.NextAttemptAt), Valid: true}
	case miniback.MessageFailed:
	default:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "message outcome status %q", out.Status)
	}
	res, err := s.db.db.ExecContext(ctx, `
		UPDATE messages SET status = $1, wechat_errcode = $2, error = $3, wechat_msgid = $4,
			sent_at = COALESCE($5, sent_at),
			next_attempt_at = COALESCE($6, next_attempt_at)
		WHERE id = $7 AND status = $8`,
		out.Status, out.WeChatErrCode, out.Error, out.WeChatMsgID, sentAt, nextAt,
		id, miniback.MessageSending)
	if err != nil {
		return fmt.Errorf("postgres: finish message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("postgres: finish message: %w", err)
	}
	if n == 0 {
		return s.notSending(ctx, id)
	}
	return nil
}

// notSending explains why FinishMessage matched no row: not_found for an
// unknown id, conflict otherwise.
func (s *MessageStore) notSending(ctx context.Context, id string) error {
	var status string
	err := s.db.db.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = $1`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errMessageNotFound()
	case err != nil:
		return fmt.Errorf("postgres: finish message: %w", err)
	}
	return miniback.Errorf(miniback.ECodeConflict, "message is %s, not sending", status)
}

// PendingMessages implements miniback.MessageStore: queued messages with
// NextAttemptAt at or before now, and sending ones claimed before
// staleBefore, the longest-waiting first. A limit of 0 or less returns no
// messages.
func (s *MessageStore) PendingMessages(ctx context.Context, now, staleBefore time.Time, limit int) ([]*miniback.Message, error) {
	msgs := []*miniback.Message{}
	if limit <= 0 {
		return msgs, nil
	}
	rows, err := s.db.db.QueryContext(ctx, `
		SELECT `+sqlrow.MessageColumns+` FROM messages
		WHERE (status = $1 AND next_attempt_at <= $2) OR (status = $3 AND claimed_at < $4)
		ORDER BY CASE WHEN status = $3 THEN claimed_at ELSE next_attempt_at END, id
		LIMIT $5`,
		miniback.MessageQueued, sqlrow.Millis(now), miniback.MessageSending, sqlrow.Millis(staleBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := sqlrow.Message(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: pending messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: pending messages: %w", err)
	}
	return msgs, nil
}
