package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	// fetchWait is how long one pull request waits on the server for a
	// message before the worker asks again.
	fetchWait = 5 * time.Second
	// fetchErrorPause keeps a worker from spinning while the server is
	// unreachable.
	fetchErrorPause = time.Second
	// ackTimeout bounds the wait for the server to confirm an ack.
	ackTimeout = 5 * time.Second
)

// Consumer runs a Handler over the messages of one durable consumer. It is
// safe for concurrent use.
type Consumer struct {
	q       *Queue
	cons    jetstream.Consumer
	h       Handler
	log     *slog.Logger
	durable string

	hb       BatchHandler // instead of h, for ConsumeBatch
	maxBatch int

	stopFetch      context.CancelFunc
	handlerCtx     context.Context
	cancelHandlers context.CancelFunc
	wg             sync.WaitGroup
	stopOnce       sync.Once
}

// Consume creates or updates the durable pull consumer durable on
// filterSubject and runs h over its messages with Config.Workers handlers at
// once, until ctx ends or Stop is called. Every instance that consumes the
// same durable shares its messages: each message goes to one handler at a
// time. Messages are pulled only when a worker is free, so none waits in a
// local buffer while its AckWait runs. On a WorkQueue stream the filters of
// different durables must not overlap, or Consume fails.
//
// Handlers run with a context that keeps ctx's values but is not canceled
// when ctx ends or on Stop, so work in flight completes and is acknowledged;
// it is canceled by Queue.Close.
func (q *Queue) Consume(ctx context.Context, durable, filterSubject string, h Handler) (*Consumer, error) {
	return q.ConsumeWorkers(ctx, durable, filterSubject, q.cfg.Workers, h)
}

// ConsumeWorkers is Consume with workers handlers at once instead of
// Config.Workers (at least 1). A flow that commits several messages
// together (the event writer) uses many workers so that one commit can
// take many messages.
func (q *Queue) ConsumeWorkers(ctx context.Context, durable, filterSubject string, workers int, h Handler) (*Consumer, error) {
	c, err := q.consumer(ctx, durable, filterSubject)
	if err != nil {
		return nil, err
	}
	c.h = h
	c.start(ctx, workers)
	return c, nil
}

// consumer creates or updates the durable and returns its Consumer, not
// yet started.
func (q *Queue) consumer(ctx context.Context, durable, filterSubject string) (*Consumer, error) {
	cons, err := q.js.CreateOrUpdateConsumer(ctx, q.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    q.cfg.MaxDeliver,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: consumer %s: %w", durable, err)
	}
	return &Consumer{q: q, cons: cons, durable: durable, log: q.cfg.Logger.With("consumer", durable)}, nil
}

// start runs workers fetch loops until ctx ends or Stop.
func (c *Consumer) start(ctx context.Context, workers int) {
	fetchCtx, stopFetch := context.WithCancel(ctx)
	c.stopFetch = stopFetch
	c.handlerCtx, c.cancelHandlers = context.WithCancel(context.WithoutCancel(ctx))
	c.q.track(c)
	work := c.work
	if c.hb != nil {
		work = c.workBatch
	}
	for range max(workers, 1) {
		c.wg.Go(func() { work(fetchCtx) })
	}
}

// Stop stops fetching and waits for the handlers in flight to finish and
// their messages to be settled. It is idempotent.
func (c *Consumer) Stop() {
	c.stopOnce.Do(func() {
		c.stopFetch()
		c.wg.Wait()
		c.cancelHandlers()
		c.q.untrack(c)
	})
}

// abort stops fetching and cancels the running handlers without waiting;
// their messages are left unacknowledged.
func (c *Consumer) abort() {
	c.stopFetch()
	c.cancelHandlers()
}

func (c *Consumer) work(ctx context.Context) {
	for ctx.Err() == nil {
		m, err := c.next(ctx)
		if err != nil {
			c.log.Warn("queue: fetch", "err", err)
			pause(ctx, fetchErrorPause)
			continue
		}
		if m != nil {
			c.handle(m)
		}
	}
}

// next pulls one message; it returns nil, nil when none came in fetchWait or
// ctx ended.
func (c *Consumer) next(ctx context.Context) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	batch, err := c.cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	for m := range batch.Messages() {
		return m, nil
	}
	if err := batch.Error(); err != nil && fctx.Err() == nil {
		return nil, err
	}
	return nil, nil
}

func (c *Consumer) handle(m jetstream.Msg) {
	d := newDelivery(m)
	stopBeat := c.heartbeat(m)
	err := c.call(d)
	stopBeat()
	if c.handlerCtx.Err() != nil {
		// Queue.Close aborted the handler: leave the message for
		// redelivery, as if the process had died.
		return
	}
	c.settle(m, d, err)
}

func newDelivery(m jetstream.Msg) *Delivery {
	d := &Delivery{Subject: m.Subject(), Data: m.Data(), Attempt: 1}
	if h := m.Headers(); h != nil {
		d.MsgID = h.Get(jetstream.MsgIDHeader)
	}
	if md, err := m.Metadata(); err == nil {
		d.Attempt = int(md.NumDelivered)
	}
	return d
}

func (c *Consumer) call(d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("queue: handler panic: %v", r)
		}
	}()
	return c.h(c.handlerCtx, d)
}

// heartbeat tells the server the message is in progress every third of
// AckWait until the returned function is called; that function returns once
// no heartbeat can be sent any more.
func (c *Consumer) heartbeat(m jetstream.Msg) (stop func()) {
	return c.heartbeatAll([]jetstream.Msg{m})
}

// settle acks, naks or terminates m according to the handler's err.
func (c *Consumer) settle(m jetstream.Msg, d *Delivery, err error) {
	if err == nil {
		ctx, cancel := context.WithTimeout(c.handlerCtx, ackTimeout)
		defer cancel()
		c.report("ack", d, m.DoubleAck(ctx))
		return
	}
	if asDrop(err) {
		c.log.Warn("queue: handler dropped message", "subject", d.Subject, "msg_id", d.MsgID, "err", err)
		c.report("term", d, m.Term())
		return
	}
	if last := c.q.cfg.MaxDeliver; last > 0 && d.Attempt >= last {
		c.log.Error("queue: giving up after last delivery", "subject", d.Subject, "msg_id", d.MsgID,
			"attempt", d.Attempt, "err", err)
		c.report("term", d, m.Term())
		return
	}
	delay := retryDelay(c.q.cfg.RetryDelay, d.Attempt)
	if r, ok := asRetry(err); ok {
		delay = r.delay
	} else {
		c.log.Warn("queue: handler failed", "subject", d.Subject, "msg_id", d.MsgID,
			"attempt", d.Attempt, "retry_in", delay, "err", err)
	}
	c.report("nak", d, m.NakWithDelay(delay))
}

func (c *Consumer) report(op string, d *Delivery, err error) {
	if err != nil {
		c.log.Warn("queue: "+op, "subject", d.Subject, "msg_id", d.MsgID, "err", err)
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
