package outbox

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
)

// Defaults of Config.
const (
	DefaultBaseDelay     = time.Second
	DefaultMaxDelay      = 5 * time.Minute
	DefaultMaxAttempts   = 8
	DefaultLease         = time.Minute
	DefaultSweepInterval = 5 * time.Second

	// durable is the queue consumer shared by every instance.
	durable = "outbox"
	// sweepBatch bounds the rows one sweep handles.
	sweepBatch = 100
	// interruptedError is recorded on a message whose instance died mid-send.
	interruptedError = "interrupted: the instance died mid-send; not resent (at most once)"
)

// Config tunes an Outbox. Zero fields take the defaults.
type Config struct {
	// BaseDelay is the backoff ceiling after the first failed attempt; it
	// doubles with each attempt. Default 1s.
	BaseDelay time.Duration
	// MaxDelay caps the backoff. Default 5m.
	MaxDelay time.Duration
	// MaxAttempts bounds the attempts of one message. Default 8.
	MaxAttempts int
	// Lease is how long a sending claim may last before it counts as
	// interrupted. It must exceed the WeChat client's timeout. Default 1m.
	Lease time.Duration
	// SweepInterval is how often Run looks for lost and interrupted
	// messages; a queued message is republished once it has been due for
	// that long. Default 5s.
	SweepInterval time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives send failures and sweeper errors. nil discards them.
	Logger *slog.Logger
	// Rand returns a number in [0, 1) for the jitter. Default math/rand/v2.
	Rand func() float64
	// Wait, when set, says how long sends must wait because WeChat is known
	// to be down (its circuit breaker is open); 0 means send now. A waiting
	// delivery is put back unclaimed, so it spends no attempt. nil never
	// waits.
	Wait func() time.Duration
	// Observer counts messages and attempts (internal/metrics implements
	// it). nil counts nothing.
	Observer Observer
	// State, when set, is the state store every instance shares: the
	// sweep then runs once per deployment per SweepInterval
	// (miniback.TakeTurn) instead of once per instance.
	State miniback.StateStore
}

// Observer is told what happens to messages, for metrics. Its methods must
// be fast and safe for concurrent use.
type Observer interface {
	// OutboxMessage reports a message of kind reaching status "queued"
	// (stored), "sent" or "failed" (final).
	OutboxMessage(kind, status string)
	// OutboxAttempt reports one send attempt and its wechat.Outcome.
	OutboxAttempt(kind, outcome string)
}

type noObserver struct{}

func (noObserver) OutboxMessage(kind, status string)  {}
func (noObserver) OutboxAttempt(kind, outcome string) {}

func (c Config) withDefaults() Config {
	if c.BaseDelay <= 0 {
		c.BaseDelay = DefaultBaseDelay
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	return c
}

// Outbox queues messages and sends them. It is safe for concurrent use;
// every instance of miniback runs one over the same store and queue.
type Outbox struct {
	store  miniback.MessageStore
	q      *queue.Queue
	sender Sender
	cfg    Config
	log    *slog.Logger

	// afterSend, set by tests only, runs between WeChat's answer and the
	// recording of the outcome; returning true simulates the death of the
	// instance there: nothing is recorded and the queue message is left
	// unacknowledged.
	afterSend func(ctx context.Context, m *miniback.Message) (die bool)
}

// New returns an Outbox over store, q and sender. Call Run to send.
func New(store miniback.MessageStore, q *queue.Queue, sender Sender, cfg Config) *Outbox {
	cfg = cfg.withDefaults()
	return &Outbox{store: store, q: q, sender: sender, cfg: cfg, log: cfg.Logger}
}

// Enqueue stores m as queued and publishes it for sending. It sets m.ID to
// a random id when empty, m.CreatedAt to now when zero, and m.Status. It
// returns an Error with code invalid_request when m has no AppID or an
// unknown Kind, and the store's error (conflict for an existing ID) when the
// row cannot be created. Once the row exists, Enqueue succeeds even if the
// publish fails: the failure is logged and the sweeper publishes the row
// again after Config.SweepInterval, so the message is sent late, not lost.
func (o *Outbox) Enqueue(ctx context.Context, m *miniback.Message) error {
	if m.AppID == "" || (m.Kind != miniback.KindCustomer && m.Kind != miniback.KindSubscribe) {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "message needs an appid and kind %q or %q",
			miniback.KindCustomer, miniback.KindSubscribe)
	}
	if m.ID == "" {
		m.ID = newID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = o.cfg.Now()
	}
	if err := o.store.CreateMessage(ctx, m); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	o.cfg.Observer.OutboxMessage(m.Kind, miniback.MessageQueued)
	if err := o.publish(ctx, m); err != nil {
		o.log.Warn("outbox: publish failed; the sweeper will retry", "id", m.ID, "appid", m.AppID, "err", err)
	}
	return nil
}

// publish puts m's id on its app's outbox subject. The id is also the
// Nats-Msg-Id, so a republish within the queue's duplicate window is
// dropped.
func (o *Outbox) publish(ctx context.Context, m *miniback.Message) error {
	return o.q.Publish(ctx, o.q.Subject("outbox", m.AppID), []byte(m.ID), m.ID)
}

// Run consumes the outbox subjects of every app and sweeps the store every
// Config.SweepInterval until ctx ends; it then waits for the sends in
// flight to be recorded and returns nil. It returns an error at once when
// the queue consumer cannot be created.
func (o *Outbox) Run(ctx context.Context) error {
	c, err := o.q.Consume(ctx, durable, o.q.Subject("outbox", "*"), o.handle)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer c.Stop()
	t := time.NewTicker(o.cfg.SweepInterval)
	defer t.Stop()
	for {
		if o.takeTurn(ctx) {
			if err := o.sweep(ctx); err != nil && ctx.Err() == nil {
				o.log.Error("outbox: sweep", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// takeTurn reports whether this instance sweeps in the current window.
func (o *Outbox) takeTurn(ctx context.Context) bool {
	if o.cfg.State == nil {
		return true
	}
	ok, err := miniback.TakeTurn(ctx, o.cfg.State, "outbox-sweep", o.cfg.SweepInterval, o.cfg.Now())
	return err == nil && ok
}

// sweep republishes queued messages that have been due for a sweep
// interval (their publish was lost) and fails sending messages whose claim
// outlived the lease (their instance died mid-send).
func (o *Outbox) sweep(ctx context.Context) error {
	now := o.cfg.Now()
	msgs, err := o.store.PendingMessages(ctx, now.Add(-o.cfg.SweepInterval), now.Add(-o.cfg.Lease), sweepBatch)
	if err != nil {
		return fmt.Errorf("outbox: sweep: %w", err)
	}
	var errs []error
	for _, m := range msgs {
		switch m.Status {
		case miniback.MessageQueued:
			err = o.publish(ctx, m)
		case miniback.MessageSending:
			err = o.interrupt(ctx, m)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("outbox: sweep %s: %w", m.ID, err))
		}
	}
	return errors.Join(errs...)
}

// interrupt fails a sending message whose claim outlived the lease. A
// conflict means another instance finished it first, which is fine.
func (o *Outbox) interrupt(ctx context.Context, m *miniback.Message) error {
	err := o.store.FinishMessage(ctx, m.ID, miniback.MessageOutcome{
		Status: miniback.MessageFailed,
		Error:  interruptedError,
		Now:    o.cfg.Now(),
	})
	if miniback.ErrorCode(err) == miniback.ECodeConflict {
		return nil
	}
	if err == nil {
		o.cfg.Observer.OutboxMessage(m.Kind, miniback.MessageFailed)
		o.log.Warn("outbox: message interrupted mid-send; not resent", "id", m.ID, "appid", m.AppID,
			"attempts", m.Attempts)
	}
	return err
}

func newID() string {
	b := make([]byte, 16)
	_, _ = cryptorand.Read(b)
	return hex.EncodeToString(b)
}
