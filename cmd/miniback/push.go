package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/outbox"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/push"
)

// pushParts is the message-push machinery: the endpoint, and the router
// that runs off the request path from the queue.
type pushParts struct {
	portal     *push.Portal
	dispatcher *push.Dispatcher
}

// mediaCheckRule runs before the configured rules so a wxa_media_check push
// always fills in the verdict of the check it names.
var mediaCheckRule = push.Rule{MsgType: "event", Event: "wxa_media_check", Handler: "media_check", Continue: true}

func newPush(cfg config.Config, apps miniback.Apps, inbox miniback.InboxStore, media miniback.MediaStore, q *queue.Queue, ob *outbox.Outbox, log *slog.Logger) (*pushParts, error) {
	rules := cfg.Push.Rules
	if len(rules) == 0 {
		rules = []push.Rule{{Handler: "log"}}
	}
	router, err := push.NewRouter(append([]push.Rule{mediaCheckRule}, rules...),
		push.WithLogger(log.With("component", "push")),
		push.WithReplier(outboxReplier{ob}),
		push.WithHandler("media_check", mediaCheckHandler{media: media, log: log}))
	if err != nil {
		return nil, &config.Error{Key: "push.rules", Msg: "invalid rule (rule numbers count the built-in media-check rule as 0)", Err: err}
	}
	return &pushParts{
		portal:     &push.Portal{Apps: apps, Inbox: inbox, Queue: q, MaxAge: cfg.Push.MaxAge, Logger: log.With("component", "push")},
		dispatcher: &push.Dispatcher{Inbox: inbox, Router: router},
	}, nil
}

// consume handles one queued inbox id: the subject names the app.
func (p *pushParts) consume(ctx context.Context, d *queue.Delivery) error {
	appid := d.Subject[strings.LastIndexByte(d.Subject, '.')+1:]
	id, err := push.ParseInboxID(d.Data)
	if err != nil {
		return queue.Drop(err)
	}
	err = p.dispatcher.HandleDelivery(ctx, appid, id)
	if miniback.IsNotFound(err) {
		return queue.Drop(err)
	}
	return err
}

// requeueAfter is how long a push may stay received before it is queued
// again. It is longer than the slowest handling (a webhook's five tries of
// at most 10 s each, with backoff) so that a push still being handled is
// never queued twice once the queue's two-minute duplicate window is over.
const requeueAfter = 10 * time.Minute

// requeueLoop publishes again, every interval, inbox messages whose
// publish a crash may have lost.
func (p *pushParts) requeueLoop(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := p.portal.Requeue(ctx, requeueAfter, 100); err != nil && ctx.Err() == nil {
			log.Warn("requeue of received pushes failed", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("requeued received pushes", slog.Int("count", n))
		}
	}
}

// outboxReplier sends auto-replies through the durable outbox.
type outboxReplier struct{ ob *outbox.Outbox }

func (r outboxReplier) ReplyCustomer(ctx context.Context, appid, openid string, payload json.RawMessage) error {
	return r.ob.Enqueue(ctx, &miniback.Message{AppID: appid, Kind: miniback.KindCustomer, OpenID: openid, Payload: payload})
}

// mediaCheckHandler records the verdict of a wxa_media_check push on the
// check started through the admin API. The push can overtake the insert of
// the check (the sandbox pushes at once), so a missing check is awaited
// briefly.
type mediaCheckHandler struct {
	media miniback.MediaStore
	log   *slog.Logger
}

func (h mediaCheckHandler) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	if m.TraceID == "" {
		return errors.New("wxa_media_check without trace_id")
	}
	suggest, label := verdictOf(m)
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		err := h.media.FinishMediaCheck(ctx, in.AppID, m.TraceID, suggest, label, time.Now())
		if !miniback.IsNotFound(err) || wait > 3*time.Second {
			if miniback.IsNotFound(err) {
				h.log.Info("wxa_media_check for a check miniback did not start", slog.String("appid", in.AppID), slog.String("trace_id", m.TraceID))
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
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
