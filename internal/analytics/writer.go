package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
)

// pullBatch is how many queued messages one consumer worker takes at
// once (one pull request, one heartbeat, for all of them).
const pullBatch = 64

// writeReq is the batches of one pull of queued messages, waiting for the
// commit that holds them.
type writeReq struct {
	batches []miniback.EventBatch
	events  int
	done    chan error
}

// handleBatches is the queue's batch handler of event batches: it hands
// the well-formed ones to the writer and returns (so the messages are
// acknowledged) only after the commit that holds them. A malformed message
// is dropped alone.
func (s *Service) handleBatches(ctx context.Context, ds []*queue.Delivery) []error {
	errs := make([]error, len(ds))
	req := &writeReq{done: make(chan error, 1)}
	var held []int // the indexes of ds that req holds
	for i, d := range ds {
		var b miniback.EventBatch
		if err := json.Unmarshal(d.Data, &b); err != nil {
			errs[i] = queue.Drop(fmt.Errorf("analytics: malformed batch: %w", err))
			continue
		}
		if b.AppID == "" || b.ID == "" {
			errs[i] = queue.Drop(errors.New("analytics: malformed batch: no appid or id"))
			continue
		}
		req.batches = append(req.batches, b)
		req.events += len(b.Events)
		held = append(held, i)
	}
	if len(held) == 0 {
		return errs
	}
	err := s.write(ctx, req)
	for _, i := range held {
		errs[i] = err
	}
	return errs
}

// write hands req to the writer and waits for its commit.
func (s *Service) write(ctx context.Context, req *writeReq) error {
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

// writeLoop commits batches: it takes one pull's batches, then keeps
// gathering the pulls that arrive for up to WriteWait, until it holds
// Writers pulls (every consumer worker is then waiting for this commit)
// or MaxWriteEvents events, and writes them in one transaction. A commit
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
		events := reqs[0].events
		timer.Reset(s.cfg.WriteWait)
	gather:
		for len(reqs) < s.cfg.Writers && events < s.cfg.MaxWriteEvents {
			select {
			case r := <-s.writes:
				reqs = append(reqs, r)
				events += r.events
			case <-timer.C:
				break gather
			case <-ctx.Done():
				break gather
			}
		}
		timer.Stop()
		var batches []miniback.EventBatch
		for _, r := range reqs {
			batches = append(batches, r.batches...)
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
