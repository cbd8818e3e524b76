package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/miniback/miniback/internal/outbox"
)

// outboxConfig is the outbox's configuration; tests shorten its delays.
func (m *Main) outboxConfig() outbox.Config {
	// A claim older than the lease counts as a send whose instance died, so
	// the lease must outlast the longest WeChat call (plus its token fetch).
	c := outbox.Config{Logger: m.Logger.With("component", "outbox"), Lease: max(time.Minute, 3*m.Config.WeChat.Timeout),
		Observer: m.Metrics}
	if m.tuneOutbox != nil {
		m.tuneOutbox(&c)
	}
	return c
}

// startWorkers runs the background work off the request path: the outbox
// senders and the push dispatcher. They stop when ctx ends, after their
// in-flight work is recorded.
func (m *Main) startWorkers(ctx context.Context) (*sync.WaitGroup, error) {
	var wg sync.WaitGroup
	consumer, err := m.Queue.Consume(ctx, "inbox", m.Queue.Subject("inbox", "*"), m.push.consume)
	if err != nil {
		return nil, fmt.Errorf("start the push dispatcher: %w", err)
	}
	wg.Go(func() { <-ctx.Done(); consumer.Stop() })
	wg.Go(func() {
		if err := m.Outbox.Run(ctx); err != nil {
			m.Logger.Error("outbox stopped", slog.String("error", err.Error()))
		}
	})
	wg.Go(func() { m.push.requeueLoop(ctx, time.Minute, m.Logger) })
	return &wg, nil
}
