package sqlite

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
// conditional UPDATE on the single write connection, so it is a
// compare-and-set. It is safe for concurrent use.
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
	_, err := s.db.write.ExecContext(ctx, `
		INSERT INTO messages (`+sqlrow.MessageColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.AppID, m.Kind, m.OpenID, string(m.Payload), m.Status, m.Attempts,
		m.WeChatErrCode, m.Error, m.WeChatMsgID, sqlrow.Millis(m.CreatedAt), sqlrow.NullMillis(m.SentAt),
		sqlrow.Millis(m.NextAttemptAt), sqlrow.NullMillis(m.ClaimedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create message: %w", constraintError(err, "message"))
	}
	return nil
}

// Message implements miniback.MessageStore.
func (s *MessageStore) Message(ctx context.Context, appid, id string) (*miniback.Message, error) {
	m, err := sqlrow.Message(s.db.read.QueryRowContext(ctx,
		`SELECT `+sqlrow.MessageColumns+` FROM messages WHERE appid = ? AND id = ?`, appid, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errMessageNotFound()
	case err != nil:
		return nil, fmt.Errorf("sqlite: message: %w", err)
	}
	return m, nil
}

// Messages implements miniback.MessageStore.
func (s *MessageStore) Messages(ctx context.Context, appid string, q miniback.MessageQuery) ([]*miniback.Message, error) {
	msgs := []*miniback.Message{}
	if q.Limit <= 0 {
		return msgs, nil
	}
	rows, err := s.db.read.QueryContext(ctx, `
		SELECT `+sqlrow.MessageColumns+` FROM messages
		WHERE appid = ? AND (? = '' OR status = ?)
			AND (? = '' OR (created_at, id) < (SELECT created_at, id FROM messages WHERE appid = ? AND id = ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		appid, q.Status, q.Status, q.Before, appid, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := sqlrow.Message(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: messages: %w", err)
	}
	return msgs, nil
}

// ClaimMessage implements miniback.MessageStore with one conditional UPDATE;
// when it matches nothing, the current row is read in the same transaction.
// An unknown id is an Error with code not_found.
func (s *MessageStore) ClaimMessage(ctx context.Context, id string, now time.Time) (*miniback.Message, bool, error) {
	var m *miniback.Message
	ok := false
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		m, err = sqlrow.Message(tx.QueryRowContext(ctx, `
			UPDATE messages SET status = ?, attempts = attempts + 1, claimed_at = ?
			WHERE id = ? AND status = ?
			RETURNING `+sqlrow.MessageColumns,
			miniback.MessageSending, sqlrow.Millis(now), id, miniback.MessageQueued))
		if err == nil {
			ok = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		m, err = sqlrow.Message(tx.QueryRowContext(ctx,
			`SELECT `+sqlrow.MessageColumns+` FROM messages WHERE id = ?`, id))
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, errMessageNotFound()
	case err != nil:
		return nil, false, fmt.Errorf("sqlite: claim message: %w", err)
	}
	return m, ok, nil
}

// FinishMessage implements miniback.MessageStore with one conditional
// UPDATE. SentAt is set to out.Now for MessageSent and NextAttemptAt to
// out.NextAttemptAt for MessageQueued. Any other out.Status is an Error with
// code invalid_request; an unknown id is an Error with code not_found.
func (s *MessageStore) FinishMessage(ctx context.Context, id string, out miniback.MessageOutcome) error {
	switch out.Status {
	case miniback.MessageSent, miniback.MessageFailed, miniback.MessageQueued:
	default:
		return miniback.Errorf(miniback.ECodeInvalidRequest, "message outcome status %q", out.Status)
	}
	res, err := s.db.write.ExecContext(ctx, `
		UPDATE messages SET status = ?, wechat_errcode = ?, error = ?, wechat_msgid = ?,
			sent_at = CASE WHEN ? = ? THEN ? ELSE sent_at END,
			next_attempt_at = CASE WHEN ? = ? THEN ? ELSE next_attempt_at END
		WHERE id = ? AND status = ?`,
		out.Status, out.WeChatErrCode, out.Error, out.WeChatMsgID,
		out.Status, miniback.MessageSent, sqlrow.Millis(out.Now),
		out.Status, miniback.MessageQueued, sqlrow.Millis(out.NextAttemptAt),
		id, miniback.MessageSending)
	if err != nil {
		return fmt.Errorf("sqlite: finish message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: finish message: %w", err)
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
	err := s.db.read.QueryRowContext(ctx, `SELECT status FROM messages WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errMessageNotFound()
	case err != nil:
		return fmt.Errorf("sqlite: finish message: %w", err)
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
	rows, err := s.db.read.QueryContext(ctx, `
		SELECT `+sqlrow.MessageColumns+` FROM messages
		WHERE (status = ? AND next_attempt_at <= ?) OR (status = ? AND claimed_at < ?)
		ORDER BY CASE WHEN status = ? THEN claimed_at ELSE next_attempt_at END, id
		LIMIT ?`,
		miniback.MessageQueued, sqlrow.Millis(now), miniback.MessageSending, sqlrow.Millis(staleBefore),
		miniback.MessageSending, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := sqlrow.Message(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: pending messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending messages: %w", err)
	}
	return msgs, nil
}
