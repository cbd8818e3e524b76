// Package housekeeping deletes what the retention settings let go: expired
// and long-revoked sessions, old handled pushes, old sent and failed
// outbound messages, and the mini-program codes beyond the cache bound.
// It runs once per deployment per interval (miniback.TakeTurn), in small
// batches with a pause between them, so that it never holds a lock for
// long nor competes with requests for the database.
package housekeeping

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miniback/miniback"
)

// Defaults of Config.
const (
	DefaultInterval = time.Hour
	DefaultBatch    = 500
	// batchPause separates two batches of one purge.
	batchPause = 50 * time.Millisecond
	// job is the name of the run in the state store.
	job = "housekeeping"
)

// Config configures a Housekeeper. Store and State are required.
type Config struct {
	Store miniback.PurgeStore
	State miniback.StateStore
	// Interval is how often a pass runs in the deployment.
	Interval time.Duration
	// RefreshTTL is auth.refresh_ttl: sessions are kept a day past their
	// expiry, and revoked ones until none of their tokens could be valid.
	RefreshTTL time.Duration
	// Inbox and Messages are retention.inbox and retention.messages.
	Inbox, Messages time.Duration
	// CodesMax is wxacode.cache_max.
	CodesMax int
	// Batch is the rows one delete may remove.
	Batch  int
	Now    func() time.Time
	Logger *slog.Logger
}

// Housekeeper runs the purges. It is safe for concurrent use.
type Housekeeper struct {
	cfg Config
}

// New returns a Housekeeper with cfg's zero fields set to their defaults.
func New(cfg Config) *Housekeeper {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Housekeeper{cfg: cfg}
}

// Report counts the rows one pass deleted.
type Report struct {
	Sessions, Inbox, Messages, Codes int
}

// Run runs a pass every Interval, when this instance wins the turn, until
// ctx ends; it then returns nil.
func (h *Housekeeper) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		h.turn(ctx)
	}
}

// turn runs one pass if this instance is the deployment's one for the
// current window, and logs what it did.
func (h *Housekeeper) turn(ctx context.Context) {
	now := h.cfg.Now()
	ok, err := miniback.TakeTurn(ctx, h.cfg.State, job, h.cfg.Interval, now)
	if err != nil || !ok {
		return
	}
	r, err := h.Pass(ctx)
	if err != nil && ctx.Err() == nil {
		h.cfg.Logger.Warn("housekeeping: pass failed", slog.String("error", err.Error()))
		return
	}
	h.cfg.Logger.Debug("housekeeping: pass", slog.Int64("window", now.UnixNano()/int64(h.cfg.Interval)),
		slog.Int("sessions", r.Sessions), slog.Int("inbox", r.Inbox), slog.Int("messages", r.Messages), slog.Int("codes", r.Codes))
}

// Pass runs every purge once, each to the end in batches, and reports
// what it deleted. The purges are independent: one failing does not stop
// the others; their errors are joined.
func (h *Housekeeper) Pass(ctx context.Context) (Report, error) {
	c := h.cfg
	now := c.Now()
	var r Report
	var errs []error
	run := func(name string, n *int, purge func(limit int) (int, error)) {
		d, err := h.drain(ctx, purge)
		*n = d
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	day := 24 * time.Hour
	run("sessions", &r.Sessions, func(limit int) (int, error) {
		return c.Store.PurgeSessions(ctx, now.Add(-day), now.Add(-c.RefreshTTL-day), limit)
	})
	run("inbox", &r.Inbox, func(limit int) (int, error) { return c.Store.PurgeInbox(ctx, now.Add(-c.Inbox), limit) })
	run("messages", &r.Messages, func(limit int) (int, error) { return c.Store.PurgeMessages(ctx, now.Add(-c.Messages), limit) })
	run("codes", &r.Codes, func(limit int) (int, error) { return c.Store.TrimCodes(ctx, c.CodesMax, limit) })
	return r, errors.Join(errs...)
}

// drain calls purge with the batch size until a batch comes back short,
// pausing between batches, and returns the rows deleted.
func (h *Housekeeper) drain(ctx context.Context, purge func(limit int) (int, error)) (int, error) {
	total := 0
	for {
		n, err := purge(h.cfg.Batch)
		total += n
		if err != nil || n < h.cfg.Batch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(batchPause):
		}
	}
}
