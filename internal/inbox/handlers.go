package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/push"
	"github.com/miniback/miniback/wechat"
)

// logHandler is the built-in "log": one Info line per message, with no
// content and no secrets.
type logHandler struct{ logger *slog.Logger }

func (h logHandler) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	h.logger.LogAttrs(ctx, slog.LevelInfo, "push message",
		slog.String("appid", in.AppID), slog.Int64("inbox_id", in.ID),
		slog.String("msg_type", m.MsgType), slog.String("event", m.Event),
		slog.String("from", m.FromUserName))
	return nil
}

// autoReplyHandler is the built-in "auto_reply": a customer-service text
// or image to the sender of a user message, queued in the outbox. Events
// are skipped: WeChat only opens the reply window for user messages
// (protocol §e.1).
type autoReplyHandler struct {
	replies Enqueuer
	text    string
	mediaID string
}

func (h autoReplyHandler) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	if m.IsEvent() || m.FromUserName == "" {
		return nil
	}
	msg := wechat.NewImageMessage(m.FromUserName, h.mediaID)
	if h.text != "" {
		msg = wechat.NewTextMessage(m.FromUserName, h.text)
	}
	// The wechat package's encoder, like every other body sent to WeChat:
	// no HTML escaping.
	payload, err := wechat.Marshal(msg)
	if err != nil {
		return fmt.Errorf("auto_reply: %w", err)
	}
	out := &miniback.Message{AppID: in.AppID, Kind: miniback.KindCustomer, OpenID: m.FromUserName, Payload: payload}
	if err := h.replies.Enqueue(ctx, out); err != nil {
		return fmt.Errorf("auto_reply: %w", err)
	}
	return nil
}

// mediaCheckRule runs before the configured rules so that a
// wxa_media_check push always records the verdict of the check it names.
var mediaCheckRule = Rule{MsgType: "event", Event: "wxa_media_check", Handler: HandlerMediaCheck, Continue: true}

// mediaCheckHandler records the verdict of a wxa_media_check push on the
// check started through the admin API. The push can overtake the insert of
// the check (the sandbox pushes at once), so a missing check is awaited
// briefly.
type mediaCheckHandler struct {
	media miniback.MediaStore
	log   *slog.Logger
	now   func() time.Time
}

func (h mediaCheckHandler) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	if m.TraceID == "" {
		return errors.New("wxa_media_check without trace_id")
	}
	suggest, label := verdictOf(m)
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		err := h.media.FinishMediaCheck(ctx, in.AppID, m.TraceID, suggest, label, h.now())
		if !miniback.IsNotFound(err) {
			return err
		}
		if wait > 3*time.Second {
			h.log.Info("wxa_media_check for a check miniback did not start", slog.String("appid", in.AppID), slog.String("trace_id", m.TraceID))
			return nil
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// verdictOf reads version 2's result, or version 1's isrisky.
func verdictOf(m *push.Message) (string, int) {
	if m.Result.Suggest != "" {
		label, _ := strconv.Atoi(m.Result.Label)
		return m.Result.Suggest, label
	}
	var v1 struct {
		IsRisky json.Number `json:"isrisky"`
	}
	_ = json.Unmarshal(m.Fields, &v1)
	if v1.IsRisky.String() == "1" {
		return "risky", 0
	}
	return "pass", 100
}
