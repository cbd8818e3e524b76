package miniback

import (
	"context"
	"encoding/json"
	"time"
)

// Message kinds and statuses (SPEC §3.2).
const (
	KindSubscribe = "subscribe"
	KindCustomer  = "customer"

	MessageQueued  = "queued"
	MessageSending = "sending"
	MessageSent    = "sent"
	MessageFailed  = "failed"
)

// Message is one outbound customer-service or subscribe message. Payload is
// the WeChat request body (with touser) sent as is.
type Message struct {
	ID            string          `json:"id"`
	AppID         string          `json:"-"`
	Kind          string          `json:"kind"`
	OpenID        string          `json:"openid"`
	Payload       json.RawMessage `json:"-"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	WeChatErrCode int             `json:"wechat_errcode,omitempty"`
	Error         string          `json:"error,omitempty"`
	WeChatMsgID   string          `json:"wechat_msgid,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	SentAt        time.Time       `json:"sent_at,omitzero"`
	NextAttemptAt time.Time       `json:"-"`
	ClaimedAt     time.Time       `json:"-"`
}

// MessageOutcome is what one send attempt ended with.
type MessageOutcome struct {
	Status        string    // MessageSent, MessageFailed, or MessageQueued to retry
	WeChatErrCode int       // the last WeChat errcode, 0 for none
	Error         string    // the last error, "" for none
	WeChatMsgID   string    // subscribe sends: WeChat's msgid
	NextAttemptAt time.Time // MessageQueued: when to try again
	Now           time.Time
}

// MessageQuery selects a page of an app's outbound messages, newest first.
type MessageQuery struct {
	Status string // "" for every status
	Before string // the id of the last message of the previous page; "" for the first page
	Limit  int    // 0 or less returns no messages
}

// MessageStore keeps outbound messages. Every status change is a
// compare-and-set so that two instances never both send one message.
// Implementations are safe for concurrent use.
type MessageStore interface {
	// CreateMessage stores m (status queued); an existing ID is an Error with code conflict.
	CreateMessage(ctx context.Context, m *Message) error
	// Message returns the message of appid, or an Error with code not_found.
	Message(ctx context.Context, appid, id string) (*Message, error)
	// Messages returns a page of appid's messages matching q, newest first
	// (by creation time, then id). A Before id that is not a message of appid
	// gives an empty page.
	Messages(ctx context.Context, appid string, q MessageQuery) ([]*Message, error)
	// ClaimMessage moves a queued message to sending, adds one attempt and
	// sets ClaimedAt, atomically. ok is false (with the current row) when
	// the message is not queued: another instance has it or it is final.
	ClaimMessage(ctx context.Context, id string, now time.Time) (m *Message, ok bool, err error)
	// FinishMessage records the outcome of the attempt of a sending message.
	// It returns an Error with code conflict when the message is not sending.
	FinishMessage(ctx context.Context, id string, out MessageOutcome) error
	// PendingMessages returns up to limit messages that need attention:
	// queued ones whose NextAttemptAt has passed, and sending ones claimed
	// before staleBefore (their instance died mid-send).
	PendingMessages(ctx context.Context, now, staleBefore time.Time, limit int) ([]*Message, error)
}
