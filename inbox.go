package miniback

import (
	"context"
	"encoding/json"
	"time"
)

// Inbox statuses: a push is received (stored and queued), then handled by
// the router, or failed when a handler gave up after its last try.
const (
	InboxReceived = "received"
	InboxHandled  = "handled"
	InboxFailed   = "failed"
)

// InboxMessage is one message or event WeChat pushed to an app, stored
// before miniback answers "success".
type InboxMessage struct {
	ID         int64           `json:"id"`
	AppID      string          `json:"appid"`
	DedupKey   string          `json:"-"` // MsgId, or FromUserName+CreateTime+Event for events
	MsgType    string          `json:"msg_type"`
	Event      string          `json:"event,omitempty"`
	FromUser   string          `json:"from_user,omitempty"` // the sender's openid
	CreateTime int64           `json:"create_time"`
	Message    json.RawMessage `json:"message"` // every field of the push, as a JSON object
	Status     string          `json:"status"`
	Error      string          `json:"error,omitempty"`
	ReceivedAt time.Time       `json:"received_at"`
	HandledAt  time.Time       `json:"handled_at,omitzero"`
}

// InboxQuery selects a page of an app's inbox, newest first.
type InboxQuery struct {
	MsgType  string // "" for every type
	Status   string // "" for every status
	BeforeID int64  // only messages with a smaller id; 0 for no bound
	Limit    int    // 0 or less returns no messages
}

// InboxStore keeps received pushes. Implementations are safe for
// concurrent use.
type InboxStore interface {
	// AddInbox stores m and sets its ID, unless a message with the same
	// (AppID, DedupKey) is already stored: then it loads that one into m and
	// reports created=false. Concurrent calls for one key store one row.
	AddInbox(ctx context.Context, m *InboxMessage) (created bool, err error)
	// InboxMessage returns the message, or an Error with code not_found.
	InboxMessage(ctx context.Context, appid string, id int64) (*InboxMessage, error)
	// InboxMessages returns the messages of appid among ids, in one query,
	// ordered by id; ids with no such message are left out (no error).
	InboxMessages(ctx context.Context, appid string, ids []int64) ([]*InboxMessage, error)
	// Inbox returns a page of appid's messages matching q, newest first.
	Inbox(ctx context.Context, appid string, q InboxQuery) ([]*InboxMessage, error)
	// FinishInbox sets the status (InboxHandled or InboxFailed) and error of
	// a received message; it returns an Error with code not_found when there
	// is no such message.
	FinishInbox(ctx context.Context, id int64, status, errText string, now time.Time) error
	// FinishInboxes is FinishInbox for every message among ids at once, in
	// one statement: either every row is finished or, on error, none. Ids
	// with no message are skipped (no error).
	FinishInboxes(ctx context.Context, ids []int64, status, errText string, now time.Time) error
	// StaleInbox returns up to limit messages still InboxReceived that were
	// received before the given time, oldest first, to queue them again.
	StaleInbox(ctx context.Context, before time.Time, limit int) ([]*InboxMessage, error)
}
