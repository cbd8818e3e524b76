package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

// Sender sends one message to WeChat and returns WeChat's msgid (subscribe
// messages only, else ""). Its errors are classified with
// wechat.IsRetryable. Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m *miniback.Message) (wechatMsgID string, err error)
}

// WeChatSender sends messages through the WeChat client of their app.
type WeChatSender struct {
	clients map[string]*wechat.Client
}

var _ Sender = (*WeChatSender)(nil)

// NewWeChatSender returns a Sender over clients, keyed by appid. The map
// must not be modified afterwards. It is safe for concurrent use.
func NewWeChatSender(clients map[string]*wechat.Client) *WeChatSender {
	return &WeChatSender{clients: clients}
}

// Send posts m.Payload to the endpoint of m.Kind. An app without a client,
// an unknown kind or a payload that is not a subscribe message fail with an
// error that is not retryable.
func (s *WeChatSender) Send(ctx context.Context, m *miniback.Message) (string, error) {
	c, ok := s.clients[m.AppID]
	if !ok {
		return "", fmt.Errorf("outbox: no WeChat client for app %q", m.AppID)
	}
	switch m.Kind {
	case miniback.KindCustomer:
		return "", c.SendCustomMessage(ctx, json.RawMessage(m.Payload))
	case miniback.KindSubscribe:
		var sm wechat.SubscribeMessage
		if err := json.Unmarshal(m.Payload, &sm); err != nil {
			return "", fmt.Errorf("outbox: subscribe payload: %w", err)
		}
		return c.SendSubscribeMessage(ctx, &sm)
	}
	return "", fmt.Errorf("outbox: unknown message kind %q", m.Kind)
}
