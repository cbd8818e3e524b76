package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestPublishConsumeAck(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{}))
			if err := q.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			subject := q.Subject("outbox", "wxapp")
			mustPublish(t, q, subject, "hello", "id-1")
			rec := newRecorder()
			mustConsume(t, q, "outbox", q.Subject("outbox", "*"), func(_ context.Context, d *Delivery) error {
				rec.record(d)
				return nil
			})
			d := rec.next(t)
			if d.Subject != subject || string(d.Data) != "hello" || d.MsgID != "id-1" || d.Attempt != 1 {
				t.Errorf("delivery = %+v, want subject %s, data hello, msg id id-1, attempt 1", d.Delivery, subject)
			}
			waitEmpty(t, q)
		})
	}
}

func TestSubject(t *testing.T) {
	q := &Queue{cfg: Config{}.withDefaults()}
	if got, want := q.Subject("inbox", "wx1"), "miniback.inbox.wx1"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.open(t, Config{})
			q := mustOpen(t, cfg)
			mustPublish(t, q, q.Subject("inbox", "a"), "kept", "")
			if err := q.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			q = mustOpen(t, cfg)
			n, err := streamMsgs(t.Context(), q)
			if err != nil || n != 1 {
				t.Errorf("after reopen: %d messages, err %v; want 1", n, err)
			}
		})
	}
}

func TestHandlerErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		cfg  Config
		// fail is the handler's error on the first delivery.
		fail error
		// minGap is the least time between the two deliveries.
		minGap time.Duration
	}{
		{name: "plain error retried with backoff", cfg: Config{RetryDelay: 10 * time.Millisecond}, fail: boom},
		{name: "RetryAfter waits", cfg: Config{RetryDelay: time.Millisecond},
			fail: RetryAfter(400*time.Millisecond, boom), minGap: 400 * time.Millisecond},
		// RetryDelay of an hour would stall the test if RetryAfter were ignored.
		{name: "RetryAfter overrides the default backoff", cfg: Config{RetryDelay: time.Hour},
			fail: RetryAfter(10*time.Millisecond, boom)},
	}
	for _, b := range backends {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				q := mustOpen(t, b.open(t, tt.cfg))
				mustPublish(t, q, q.Subject("outbox", "a"), "m", "")
				rec := newRecorder()
				mustConsume(t, q, "outbox", q.Subject("outbox", ">"), func(_ context.Context, d *Delivery) error {
					rec.record(d)
					if d.Attempt == 1 {
						return tt.fail
					}
					return nil
				})
				first, second := rec.next(t), rec.next(t)
				if gap := second.at.Sub(first.at); gap < tt.minGap {
					t.Errorf("redelivered after %s, want at least %s", gap, tt.minGap)
				}
				if first.Attempt != 1 || second.Attempt != 2 {
					t.Errorf("attempts = %d, %d; want 1, 2", first.Attempt, second.Attempt)
				}
				waitEmpty(t, q)
			})
		}
	}
}

func TestDropTerminates(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{RetryDelay: time.Millisecond, Workers: 1}))
			subject := q.Subject("outbox", "a")
			mustPublish(t, q, subject, "bad", "")
			mustPublish(t, q, subject, "good", "")
			rec := newRecorder()
			mustConsume(t, q, "outbox", subject, func(_ context.Context, d *Delivery) error {
				rec.record(d)
				if string(d.Data) == "bad" {
					return Drop(errors.New("malformed"))
				}
				return nil
			})
			waitEmpty(t, q)
			info := consumerInfo(t, q, "outbox")
			if n := rec.count("bad"); n != 1 || info.NumRedelivered != 0 || info.NumAckPending != 0 {
				t.Errorf("bad delivered %d times, redelivered %d, pending %d; want 1, 0, 0",
					n, info.NumRedelivered, info.NumAckPending)
			}
		})
	}
}

func TestMsgIDDedupe(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{}))
			subject := q.Subject("outbox", "a")
			mustPublish(t, q, subject, "one", "m1")
			mustPublish(t, q, subject, "one again", "m1")
			mustPublish(t, q, subject, "two", "m2")
			mustPublish(t, q, subject, "no id", "")
			mustPublish(t, q, subject, "no id", "")
			n, err := streamMsgs(t.Context(), q)
			if err != nil || n != 4 {
				t.Errorf("stream holds %d messages (err %v), want 4", n, err)
			}
		})
	}
}

// TestCrashRedelivers closes the Queue while a handler still holds the
// message, as if the process died, and checks that a new Queue on the same
// storage delivers it again.
func TestCrashRedelivers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.open(t, Config{AckWait: time.Second})
			q := mustOpen(t, cfg)
			subject := q.Subject("inbox", "a")
			mustPublish(t, q, subject, "work", "w1")
			rec := newRecorder()
			released := make(chan struct{})
			mustConsume(t, q, "inbox", subject, func(ctx context.Context, d *Delivery) error {
				rec.record(d)
				<-ctx.Done() // never finishes on its own
				defer close(released)
				return nil // would ack if Close did not count as a crash
			})
			rec.next(t)
			if err := q.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			<-released

			q2 := mustOpen(t, cfg)
			rec2 := newRecorder()
			mustConsume(t, q2, "inbox", subject, func(_ context.Context, d *Delivery) error {
				rec2.record(d)
				return nil
			})
			d := rec2.next(t)
			if string(d.Data) != "work" || d.MsgID != "w1" || d.Attempt != 2 {
				t.Errorf("after reopen: %+v, want work/w1 attempt 2", d.Delivery)
			}
			waitEmpty(t, q2)
		})
	}
}

func TestPublishSurvivesRestart(t *testing.T) {
	cfg := embeddedConfig(t, Config{})
	q := mustOpen(t, cfg)
	mustPublish(t, q, q.Subject("outbox", "a"), "durable", "d1")
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	q = mustOpen(t, cfg)
	rec := newRecorder()
	mustConsume(t, q, "outbox", q.Subject("outbox", "a"), func(_ context.Context, d *Delivery) error {
		rec.record(d)
		return nil
	})
	if d := rec.next(t); string(d.Data) != "durable" || d.Attempt != 1 {
		t.Errorf("after restart: %+v, want durable attempt 1", d.Delivery)
	}
}

// TestCompetingConsumers runs two consumers on one durable (two Queues on
// the external server, two Consume calls on the embedded one) and checks
// that both get work and no message is handled twice.
func TestCompetingConsumers(t *testing.T) {
	const n = 40
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.open(t, Config{Workers: 1})
			q1 := mustOpen(t, cfg)
			q2 := q1
			if cfg.URL != "" {
				q2 = mustOpen(t, cfg)
			}
			subject := q1.Subject("outbox", "a")
			for i := range n {
				mustPublish(t, q1, subject, fmt.Sprint(i), fmt.Sprint(i))
			}
			var (
				mu      sync.Mutex
				handled = map[string]int{}
				by      = [2]int{}
				both    = make(chan struct{})
				once    sync.Once
			)
			handler := func(who int) Handler {
				return func(ctx context.Context, d *Delivery) error {
					mu.Lock()
					handled[string(d.Data)]++
					by[who]++
					if by[0] > 0 && by[1] > 0 {
						once.Do(func() { close(both) })
					}
					mu.Unlock()
					// Hold each consumer's only worker until the other
					// one has work too, so both must take part.
					select {
					case <-both:
						return nil
					case <-time.After(waitTimeout):
						return errors.New("the other consumer got no work")
					}
				}
			}
			mustConsume(t, q1, "outbox", subject, handler(0))
			mustConsume(t, q2, "outbox", subject, handler(1))
			waitEmpty(t, q1)
			mu.Lock()
			defer mu.Unlock()
			for i := range n {
				if c := handled[fmt.Sprint(i)]; c != 1 {
					t.Errorf("message %d handled %d times, want 1", i, c)
				}
			}
			if by[0] == 0 || by[1] == 0 {
				t.Errorf("work split %v, want both consumers to take part", by)
			}
		})
	}
}

// TestSlowHandlerHeartbeats runs a handler three times longer than AckWait
// with a second worker idle: without heartbeats the message would be
// redelivered to that worker.
func TestSlowHandlerHeartbeats(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{AckWait: time.Second, Workers: 2}))
			subject := q.Subject("outbox", "a")
			mustPublish(t, q, subject, "slow", "")
			rec := newRecorder()
			mustConsume(t, q, "outbox", subject, func(_ context.Context, d *Delivery) error {
				rec.record(d)
				time.Sleep(3 * time.Second) // the slow work
				return nil
			})
			waitEmpty(t, q)
			info := consumerInfo(t, q, "outbox")
			if n := rec.count("slow"); n != 1 || info.NumRedelivered != 0 {
				t.Errorf("delivered %d times, %d redelivered; want 1, 0", n, info.NumRedelivered)
			}
		})
	}
}

func TestPanicIsRetried(t *testing.T) {
	q := mustOpen(t, embeddedConfig(t, Config{RetryDelay: time.Millisecond}))
	subject := q.Subject("outbox", "a")
	mustPublish(t, q, subject, "p", "")
	rec := newRecorder()
	mustConsume(t, q, "outbox", subject, func(_ context.Context, d *Delivery) error {
		rec.record(d)
		if d.Attempt == 1 {
			panic("handler bug")
		}
		return nil
	})
	rec.next(t)
	if d := rec.next(t); d.Attempt != 2 {
		t.Errorf("attempt = %d, want 2", d.Attempt)
	}
}

func TestMaxDeliverGivesUp(t *testing.T) {
	q := mustOpen(t, embeddedConfig(t, Config{RetryDelay: time.Millisecond, MaxDeliver: 3}))
	subject := q.Subject("outbox", "a")
	mustPublish(t, q, subject, "doomed", "")
	rec := newRecorder()
	mustConsume(t, q, "outbox", subject, func(_ context.Context, d *Delivery) error {
		rec.record(d)
		return errors.New("always")
	})
	waitEmpty(t, q)
	if n := rec.count("doomed"); n != 3 {
		t.Errorf("delivered %d times, want 3", n)
	}
}

func TestStopWaitsForHandlers(t *testing.T) {
	q := mustOpen(t, embeddedConfig(t, Config{}))
	subject := q.Subject("outbox", "a")
	mustPublish(t, q, subject, "x", "")
	started, finish := make(chan struct{}), make(chan struct{})
	var done bool
	c := mustConsume(t, q, "outbox", subject, func(ctx context.Context, d *Delivery) error {
		close(started)
		<-finish
		done = ctx.Err() == nil
		return nil
	})
	<-started
	close(finish)
	c.Stop()
	if !done {
		t.Error("Stop returned before the handler, or canceled its context")
	}
	waitEmpty(t, q)
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		base    time.Duration
		attempt int
		want    time.Duration
	}{
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 7, time.Minute},
		{time.Second, 1000, time.Minute},
		{2 * time.Minute, 1, time.Minute},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.base, tt.attempt); got != tt.want {
			t.Errorf("retryDelay(%s, %d) = %s, want %s", tt.base, tt.attempt, got, tt.want)
		}
	}
}

func TestErrorsUnwrap(t *testing.T) {
	cause := errors.New("cause")
	for _, err := range []error{RetryAfter(time.Second, cause), Drop(cause)} {
		if !errors.Is(err, cause) {
			t.Errorf("%T does not unwrap to its cause", err)
		}
	}
}

// TestPingProbesAWrite fills the stream up to a limit that refuses new
// messages: Ping, which stores and deletes a probe message, then fails;
// while the stream has room it succeeds and leaves no message behind.
func TestPingProbesAWrite(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{}))
			ctx := t.Context()
			for range 3 {
				if err := q.Ping(ctx); err != nil {
					t.Fatalf("Ping: %v", err)
				}
			}
			stream, err := q.js.Stream(ctx, q.cfg.Stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Msgs != 0 {
				t.Fatalf("%d messages left in the stream by Ping", info.State.Msgs)
			}
			cfg := info.Config
			cfg.MaxMsgs, cfg.Discard = 1, jetstream.DiscardNew
			if _, err := q.js.UpdateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			mustPublish(t, q, q.Subject("outbox", "wxfull"), "fills it", "")
			if err := q.Ping(ctx); err == nil {
				t.Fatal("Ping succeeded on a stream that refuses writes")
			}
		})
	}
}
