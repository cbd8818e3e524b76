package pay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/wechatpay"
)

// leaseKey is the state-store key of the instance that reconciles.
const leaseKey = "pay:reconcile:lease"

// Run reconciles due orders and refunds and delivers business events
// until ctx ends, on one instance of the deployment at a time.
func (s *Service) Run(ctx context.Context) error {
	tick := s.Tick
	if tick <= 0 {
		tick = 5 * time.Second
	}
	if s.Queue != nil {
		c, err := s.Queue.Consume(ctx, eventConsumer, s.Queue.Subject(eventKind, "*"), s.handleEvent)
		if err != nil {
			return fmt.Errorf("pay: %w", err)
		}
		defer c.Stop()
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	refreshed := map[string]time.Time{}
	for {
		s.refreshCertificates(ctx, refreshed)
		if s.lead(ctx, 6*tick) {
			s.RunOnce(ctx)
		}
		select {
		case <-ctx.Done():
			_, _ = s.State.DeleteIfEqual(context.WithoutCancel(ctx), leaseKey, s.Instance)
			return nil
		case <-t.C:
		}
	}
}

// refreshCertificates downloads the platform certificates of apps in
// certificate mode when due. Every instance keeps its own, so this runs
// everywhere, not only on the lease holder.
func (s *Service) refreshCertificates(ctx context.Context, last map[string]time.Time) {
	for id, app := range s.Apps {
		if !app.CertMode || s.now().Sub(last[id]) < CertRefresh {
			continue
		}
		last[id] = s.now()
		if err := app.Client.RefreshCertificates(ctx); err != nil {
			last[id] = s.now().Add(-CertRefresh + time.Minute) // try again in a minute
			s.log().Warn("pay: platform certificates", "appid", id, "err", err)
		}
	}
}

// lead takes or renews the lease and reports whether this instance holds it.
func (s *Service) lead(ctx context.Context, ttl time.Duration) bool {
	ok, err := s.State.SetNX(ctx, leaseKey, s.Instance, ttl)
	if err != nil {
		return false
	}
	if !ok {
		v, found, err := s.State.Get(ctx, leaseKey)
		if err != nil || !found || v != s.Instance {
			return false
		}
		_ = s.State.Set(ctx, leaseKey, s.Instance, ttl)
	}
	return true
}

// RunOnce does one round of reconciliation and event delivery (or, with
// a Queue, of publishing the events due).
func (s *Service) RunOnce(ctx context.Context) {
	s.reconcileOrders(ctx)
	s.reconcileRefunds(ctx)
	if s.Queue != nil {
		s.publishEvents(ctx)
	} else {
		s.deliverEvents(ctx)
	}
}

// The queue's names for business events.
const (
	eventKind     = "payevent"
	eventConsumer = "pay-webhook"
	// republishAfter is when a pending event is handed to the queue
	// again: its message was dropped after the queue's last redelivery,
	// or lost with the instance that published it.
	republishAfter = 10 * time.Minute
)

// publishEvents hands the pending events to the queue, each with its id as
// the message id, so a publish repeated by another leader is dropped.
func (s *Service) publishEvents(ctx context.Context) {
	events, err := s.Store.PendingPayEvents(ctx, 100)
	if err != nil {
		s.log().Error("pay: pending events", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.published == nil {
		s.published = map[string]time.Time{}
	}
	for _, e := range events {
		if at, ok := s.published[e.ID]; ok && s.now().Sub(at) < republishAfter {
			continue
		}
		data, _ := json.Marshal(e)
		if err := s.Queue.Publish(ctx, s.Queue.Subject(eventKind, e.AppID), data, e.ID); err != nil {
			s.log().Warn("pay: publish event", "event", e.ID, "err", err)
			return
		}
		s.published[e.ID] = s.now()
	}
	for id, at := range s.published {
		if s.now().Sub(at) > 24*time.Hour {
			delete(s.published, id)
		}
	}
}

// handleEvent posts one business event taken from the queue. An event
// already delivered (a duplicate message) is skipped; a failure is
// redelivered by the queue with backoff.
func (s *Service) handleEvent(ctx context.Context, d *queue.Delivery) error {
	var e miniback.PayEvent
	if err := json.Unmarshal(d.Data, &e); err != nil || e.ID == "" {
		return queue.Drop(fmt.Errorf("pay: malformed event message: %w", err))
	}
	done, err := s.Store.PayEventDone(ctx, e.ID)
	if err != nil || done {
		return err
	}
	if app, ok := s.Apps[e.AppID]; ok && app.WebhookURL != "" {
		if err := s.deliver(ctx, app, &e); err != nil {
			return fmt.Errorf("pay: webhook %s: %w", e.ID, err)
		}
	}
	return s.Store.FinishPayEvent(ctx, e.ID, s.now())
}

func (s *Service) reconcileOrders(ctx context.Context) {
	due, err := s.Store.DueOrders(ctx, s.now(), 100)
	if err != nil {
		s.log().Error("pay: due orders", "err", err)
		return
	}
	for _, o := range due {
		if err := s.reconcileOrder(ctx, o); err != nil {
			s.log().Warn("pay: reconcile order", "appid", o.AppID, "out_trade_no", o.OutTradeNo, "err", err)
			_ = s.Store.ScheduleOrderCheck(ctx, o.AppID, o.OutTradeNo, s.now().Add(time.Minute), o.Checks)
		}
	}
}

// reconcileOrder queries one order whose notification has not come: paid
// or closed there is recorded here; unpaid past its expiry is closed
// there and here; otherwise the next check is scheduled.
func (s *Service) reconcileOrder(ctx context.Context, o *miniback.Order) error {
	app, err := s.app(o.AppID)
	if err != nil {
		return err
	}
	tx, err := app.Client.QueryByOutTradeNo(ctx, o.OutTradeNo)
	notFound := false
	if e, ok := wechatpay.AsError(err); ok && e.IsNotFound() {
		notFound, err = true, nil
	}
	if err != nil {
		return err
	}
	if !notFound && tx.TradeState != wechatpay.TradeNotPay {
		_, err := s.applyTransaction(ctx, app, o, tx, "reconciliation")
		return err
	}
	if !expiry(o).After(s.now()) {
		if !notFound {
			if err := app.Client.Close(ctx, o.OutTradeNo); err != nil {
				return err
			}
		}
		_, _, err := s.Store.MarkClosed(ctx, o.AppID, o.OutTradeNo, s.now())
		return err
	}
	base := o.CreatedAt
	if !o.PrepayAt.IsZero() {
		base = o.PrepayAt
	}
	next := nextCheck(base, o.Checks+1)
	for !next.After(s.now()) { // after downtime, do not replay missed checks
		o.Checks++
		next = nextCheck(base, o.Checks+1)
	}
	if e := expiry(o); next.After(e) {
		next = e
	}
	return s.Store.ScheduleOrderCheck(ctx, o.AppID, o.OutTradeNo, next, o.Checks+1)
}

func (s *Service) reconcileRefunds(ctx context.Context) {
	due, err := s.Store.DueRefunds(ctx, s.now(), 100)
	if err != nil {
		s.log().Error("pay: due refunds", "err", err)
		return
	}
	for _, r := range due {
		got, err := s.syncRefund(ctx, r)
		if err != nil {
			s.log().Warn("pay: reconcile refund", "appid", r.AppID, "out_refund_no", r.OutRefundNo, "err", err)
		}
		if err != nil || got.Status == miniback.RefundProcessing || got.Status == miniback.RefundAbnormal {
			next := nextCheck(r.CreatedAt, r.Checks+1)
			for !next.After(s.now()) {
				r.Checks++
				next = nextCheck(r.CreatedAt, r.Checks+1)
			}
			_ = s.Store.ScheduleRefundCheck(ctx, r.AppID, r.OutRefundNo, next, r.Checks+1)
		}
	}
}

// Event is the JSON posted to pay.webhook_url.
type Event struct {
	Event  string           `json:"event"`
	AppID  string           `json:"appid"`
	Order  *miniback.Order  `json:"order"`
	Refund *miniback.Refund `json:"refund,omitempty"`
}

// deliverEvents posts pending business events, each until answered 2xx:
// a failure leaves it pending for the next round. X-Miniback-Delivery is
// the event id, the same on every retry, so receivers can dedupe.
func (s *Service) deliverEvents(ctx context.Context) {
	events, err := s.Store.PendingPayEvents(ctx, 100)
	if err != nil {
		s.log().Error("pay: pending events", "err", err)
		return
	}
	failed := map[string]bool{} // one failing receiver does not hold up others
	for _, e := range events {
		app, ok := s.Apps[e.AppID]
		if !ok || app.WebhookURL == "" {
			_ = s.Store.FinishPayEvent(ctx, e.ID, s.now())
			continue
		}
		if failed[e.AppID] {
			continue
		}
		if err := s.deliver(ctx, app, e); err != nil {
			s.log().Warn("pay: webhook", "appid", e.AppID, "event", e.ID, "err", err)
			failed[e.AppID] = true
			continue
		}
		_ = s.Store.FinishPayEvent(ctx, e.ID, s.now())
	}
}

func (s *Service) deliver(ctx context.Context, app *App, e *miniback.PayEvent) error {
	ev := Event{Event: e.Event, AppID: e.AppID}
	var err error
	if ev.Order, err = s.Store.Order(ctx, e.AppID, e.OutTradeNo); err != nil {
		return err
	}
	if e.OutRefundNo != "" {
		if ev.Refund, err = s.Store.Refund(ctx, e.AppID, e.OutRefundNo); err != nil {
			return err
		}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Miniback-Timestamp", ts)
	req.Header.Set("X-Miniback-Signature", signWebhook([]byte(app.WebhookSecret), ts, body))
	req.Header.Set("X-Miniback-Delivery", e.ID)
	hc := http.Client{Timeout: 10 * time.Second}
	if s.Webhook != nil {
		hc = *s.Webhook
	}
	// A redirect would carry the signed event to an address nobody
	// configured: a 3xx is an answer like any other non-2xx.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

// signWebhook is "sha256=" + hex(HMAC-SHA256(secret, timestamp "." body)),
// the signature of the push webhook.
func signWebhook(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
