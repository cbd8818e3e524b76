package queue

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BatchHandler does the work of several deliveries at once and returns one
// error per delivery, errs[i] for ds[i], each deciding that message's ack
// as a Handler's error does; a nil slice acknowledges every message. A
// panic counts as the same error for every delivery.
type BatchHandler func(ctx context.Context, ds []*Delivery) (errs []error)

// ConsumeBatch is ConsumeWorkers with a BatchHandler (workers of 0 or
// less means Config.Workers): each worker pulls, in one request, up to maxBatch messages that are waiting (or
// waits for one when none is), hands them to h together and then settles
// each. It lets a flow load and write the work of many messages in one
// statement each, and costs one pull request and one heartbeat per batch
// instead of per message.
//
// Acknowledgements are sent without waiting for the server's
// confirmation: an ack lost on the way makes the message redelivered after
// AckWait, so h must recognise work already done (as every handler must
// after a crash).
func (q *Queue) ConsumeBatch(ctx context.Context, durable, filterSubject string, workers, maxBatch int, h BatchHandler) (*Consumer, error) {
	c, err := q.consumer(ctx, durable, filterSubject)
	if err != nil {
		return nil, err
	}
	c.hb, c.maxBatch = h, max(maxBatch, 1)
	if workers <= 0 {
		workers = q.cfg.Workers
	}
	c.start(ctx, workers)
	return c, nil
}

func (c *Consumer) workBatch(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := c.nextBatch(ctx)
		if err != nil {
			c.log.Warn("queue: fetch", "err", err)
			pause(ctx, fetchErrorPause)
			continue
		}
		if len(msgs) > 0 {
			c.handleBatch(msgs)
		}
	}
}

// nextBatch takes the messages waiting, up to maxBatch, in one request; when
// none is waiting it waits up to fetchWait for one.
func (c *Consumer) nextBatch(ctx context.Context) ([]jetstream.Msg, error) {
	batch, err := c.cons.FetchNoWait(c.maxBatch)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		return msgs, nil
	}
	m, err := c.next(ctx)
	if m == nil || err != nil {
		return nil, err
	}
	return []jetstream.Msg{m}, nil
}

func (c *Consumer) handleBatch(msgs []jetstream.Msg) {
	ds := make([]*Delivery, len(msgs))
	for i, m := range msgs {
		ds[i] = newDelivery(m)
	}
	stopBeat := c.heartbeatAll(msgs)
	errs := c.callBatch(ds)
	stopBeat()
	if c.handlerCtx.Err() != nil {
		return // Queue.Close aborted the handler: as if the process had died
	}
	for i, m := range msgs {
		var err error
		if i < len(errs) {
			err = errs[i]
		}
		if err == nil {
			c.report("ack", ds[i], m.Ack())
			continue
		}
		c.settle(m, ds[i], err)
	}
}

func (c *Consumer) callBatch(ds []*Delivery) (errs []error) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("queue: handler panic: %v", r)
			errs = make([]error, len(ds))
			for i := range errs {
				errs[i] = err
			}
		}
	}()
	return c.hb(c.handlerCtx, ds)
}

// heartbeatAll is heartbeat for every message of a batch, from one
// goroutine.
func (c *Consumer) heartbeatAll(msgs []jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(c.q.cfg.AckWait/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					if err := m.InProgress(); err != nil {
						c.log.Warn("queue: in progress", "subject", m.Subject(), "err", err)
					}
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
