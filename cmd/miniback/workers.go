package main

import (
	"context"
	"sync"
	"time"

	"github.com/miniback/miniback/internal/outbox"
)

// outboxConfig is the outbox's configuration; tests shorten its delays.
func (m *Main) outboxConfig() outbox.Config {
	// A claim older than the lease counts as a send whose instance died, so
	// the lease must outlast the longest WeChat call (plus its token fetch).
	c := outbox.Config{Logger: m.Logger.With("component", "outbox"), Lease: max(time.Minute, 3*m.Config.WeChat.Timeout),
		Observer: m.Metrics, State: m.State}
	if m.tuneOutbox != nil {
		m.tuneOutbox(&c)
	}
	return c
}

// startWorkers runs the background work off the request path: the outbox
// and the inbox. They stop when ctx ends, after their in-flight work is
// recorded; one that cannot run sends its error on failed.
func (m *Main) startWorkers(ctx context.Context) (wg *sync.WaitGroup, failed <-chan error) {
	wg = &sync.WaitGroup{}
	flows := []interface{ Run(context.Context) error }{m.Outbox, m.Inbox, m.Analytics, m.Housekeeper}
	if m.Pay != nil {
		flows = append(flows, m.Pay)
	}
	errs := make(chan error, len(flows))
	for _, w := range flows {
		wg.Go(func() {
			if err := w.Run(ctx); err != nil {
				errs <- err
			}
		})
	}
	return wg, errs
}
