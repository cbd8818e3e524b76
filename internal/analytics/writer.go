package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
)

// writeReq is one queued batch waiting for a commit.
type writeReq struct {
	batch miniback.EventBatch
	done  chan error
}

// handleBatch is the queue handler of event batches: it hands the batch
// to the writer and returns (so the message is acknowledged) only after
// the commit that holds it.
func (s *Service) handleBatch(ctx context.Context, d *queue.Delivery) error {
	var b miniback.EventBatch
	if err := json.Unmarshal(d.Data, &b); err != nil || b.AppID == "" || b.ID == "" {
		return queue.Drop(fmt.Errorf("analytics: malformed batch: %w", err))
	}
	req := &writeReq{batch: b, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeLoop commits batches: it takes one, then keeps gathering the
// batches that arrive for up to WriteWait, until it holds Writers batches
// (every consumer worker is then waiting for this commit) or
// MaxWriteEvents events, and writes them in one transaction. A commit
// costs about the same for one event as for hundreds, so under a trickle
// of logins the wait turns one transaction per event into one per group;
// the messages stay unacknowledged in JetStream until their commit.
func (s *Service) writeLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var reqs []*writeReq
		select {
		case <-ctx.Done():
			return
		case r := <-s.writes:
			reqs = append(reqs, r)
		}
		events := len(reqs[0].batch.Events)
		timer.Reset(s.cfg.WriteWait)
	gather:
		for len(reqs) < s.cfg.Writers && events < s.cfg.MaxWriteEvents {
			select {
			case r := <-s.writes:
				reqs = append(reqs, r)
				events += len(r.batch.Events)
			case <-timer.C:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		timer.Stop()
		batches := make([]miniback.EventBatch, len(reqs))
		for i, r := range reqs {
			batches[i] = r.batch
		}
		_, err := s.events.AddEvents(ctx, batches, s.cfg.Loc)
		if err != nil {
			s.log.Error("analytics: write events", "batches", len(batches), "events", events, "err", err)
		}
		for _, r := range reqs {
			r.done <- err
		}
	}
}
