package push

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/miniback/miniback"
)

// logHandler is the built-in "log": one Info line per message, with no
// content and no secrets.
type logHandler struct{ logger *slog.Logger }

func (h logHandler) Handle(ctx context.Context, m *Message, in *miniback.InboxMessage) error {
	h.logger.LogAttrs(ctx, slog.LevelInfo, "push message",
		slog.String("appid", in.AppID), slog.Int64("inbox_id", in.ID),
		slog.String("msg_type", m.MsgType), slog.String("event", m.Event),
		slog.String("from", m.FromUserName))
	return nil
}

// autoReplyHandler is the built-in "auto_reply": a customer-service text
// or image to the sender of a user message. Events are skipped: WeChat
// only opens the reply window for user messages (protocol §e.1).
type autoReplyHandler struct {
	replier Replier
	text    string
	mediaID string
}

func (h autoReplyHandler) Handle(ctx context.Context, m *Message, in *miniback.InboxMessage) error {
	if m.IsEvent() || m.FromUserName == "" {
		return nil
	}
	payload, err := h.payload(m.FromUserName)
	if err != nil {
		return err
	}
	if err := h.replier.ReplyCustomer(ctx, in.AppID, m.FromUserName, payload); err != nil {
		return fmt.Errorf("auto_reply: %w", err)
	}
	return nil
}

// payload is the /cgi-bin/message/custom/send body (protocol §e.1).
func (h autoReplyHandler) payload(openid string) (json.RawMessage, error) {
	type text struct {
		Content string `json:"content"`
	}
	type image struct {
		MediaID string `json:"media_id"`
	}
	v := struct {
		ToUser  string `json:"touser"`
		MsgType string `json:"msgtype"`
		Text    *text  `json:"text,omitempty"`
		Image   *image `json:"image,omitempty"`
	}{ToUser: openid}
	if h.text != "" {
		v.MsgType, v.Text = "text", &text{Content: h.text}
	} else {
		v.MsgType, v.Image = "image", &image{MediaID: h.mediaID}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("auto_reply: %w", err)
	}
	return b, nil
}
