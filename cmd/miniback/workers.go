package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/miniback/miniback/internal/outbox"
)

// outboxConfig is the outbox's configuration; tests shorten its delays.
func (m *Main) outboxConfig() outbox.Config {
	c := outbox.Config{Logger: m.Logger.With("component", "outbox")}
	if m.tuneOutbox != nil {
		m.tuneOutbox(&c)
	}
	return c
}

// startWorkers runs the background work off the request path: the outbox
// senders and the push dispatcher. They stop when ctx ends, after their
// in-flight work is recorded.
func (m *Main) startWorkers(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := m.Outbox.Run(ctx); err != nil {
			m.Logger.Error("outbox stopped", slog.String("error", err.Error()))
		}
	})
	return &wg
}
