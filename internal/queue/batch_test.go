package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// batchRecorder records the batches a BatchHandler is given.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]Delivery
}

func (r *batchRecorder) record(ds []*Delivery) {
	b := make([]Delivery, len(ds))
	for i, d := range ds {
		b[i] = *d
	}
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
}

func (r *batchRecorder) all() [][]Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]Delivery(nil), r.batches...)
}

func mustConsumeBatch(t *testing.T, q *Queue, durable, filter string, workers, maxBatch int, h BatchHandler) *Consumer {
	t.Helper()
	c, err := q.ConsumeBatch(t.Context(), durable, filter, workers, maxBatch, h)
	if err != nil {
		t.Fatalf("ConsumeBatch: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// TestConsumeBatch: messages waiting are handed over together, at most
// maxBatch at once, and each is settled by its own error: nil acks, Drop
// terminates, any other error redelivers that message alone.
func TestConsumeBatch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			q := mustOpen(t, b.open(t, Config{RetryDelay: time.Millisecond}))
			subject := q.Subject("inbox", "a")
			for i := range 10 {
				mustPublish(t, q, subject, fmt.Sprint(i), "")
			}
			rec := &batchRecorder{}
			mustConsumeBatch(t, q, "inbox", subject, 1, 4, func(_ context.Context, ds []*Delivery) []error {
				rec.record(ds)
				errs := make([]error, len(ds))
				for i, d := range ds {
					switch {
					case string(d.Data) == "3":
						errs[i] = Drop(errors.New("bad"))
					case string(d.Data) == "5" && d.Attempt == 1:
						errs[i] = errors.New("try again")
					}
				}
				return errs
			})
			waitEmpty(t, q)
			seen := map[string][]int{} // data → attempts
			for i, batch := range rec.all() {
				if len(batch) > 4 {
					t.Errorf("batch %d has %d messages, max 4", i, len(batch))
				}
				for _, d := range batch {
					seen[string(d.Data)] = append(seen[string(d.Data)], d.Attempt)
				}
			}
			if first := rec.all()[0]; len(first) != 4 {
				t.Errorf("first batch has %d messages; 10 were waiting, want 4", len(first))
			}
			for i := range 10 {
				want := "[1]"
				if i == 5 {
					want = "[1 2]"
				}
				if got := fmt.Sprint(seen[fmt.Sprint(i)]); got != want {
					t.Errorf("message %d: attempts %s, want %s", i, got, want)
				}
			}
		})
	}
}

// TestConsumeBatchCrashRedelivers: a batch whose handler is cut short by
// Close is redelivered whole to the next consumer, none acknowledged.
func TestConsumeBatchCrashRedelivers(t *testing.T) {
	cfg := embeddedConfig(t, Config{AckWait: time.Second})
	q := mustOpen(t, cfg)
	subject := q.Subject("inbox", "a")
	for i := range 3 {
		mustPublish(t, q, subject, fmt.Sprint(i), "")
	}
	started := make(chan struct{})
	released := make(chan struct{})
	c, err := q.ConsumeBatch(t.Context(), "inbox", subject, 1, 8, func(ctx context.Context, ds []*Delivery) []error {
		close(started)
		<-ctx.Done() // never finishes on its own
		defer close(released)
		return nil // would ack every message if Close did not count as a crash
	})
	if err != nil {
		t.Fatalf("ConsumeBatch: %v", err)
	}
	<-started
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-released
	c.Stop()

	q2 := mustOpen(t, cfg)
	rec := &batchRecorder{}
	mustConsumeBatch(t, q2, "inbox", subject, 1, 8, func(_ context.Context, ds []*Delivery) []error {
		rec.record(ds)
		return nil
	})
	waitEmpty(t, q2)
	var got []string
	for _, batch := range rec.all() {
		for _, d := range batch {
			got = append(got, fmt.Sprintf("%s@%d", d.Data, d.Attempt))
		}
	}
	if fmt.Sprint(got) != "[0@2 1@2 2@2]" {
		t.Errorf("after reopen: %v, want every message again, attempt 2", got)
	}
}

// TestConsumeBatchPanic: a panicking batch handler fails every message of
// the batch, which are then retried.
func TestConsumeBatchPanic(t *testing.T) {
	q := mustOpen(t, embeddedConfig(t, Config{RetryDelay: time.Millisecond}))
	subject := q.Subject("inbox", "a")
	mustPublish(t, q, subject, "p", "")
	rec := &batchRecorder{}
	mustConsumeBatch(t, q, "inbox", subject, 1, 8, func(_ context.Context, ds []*Delivery) []error {
		rec.record(ds)
		if ds[0].Attempt == 1 {
			panic("handler bug")
		}
		return nil
	})
	waitEmpty(t, q)
	if n := len(rec.all()); n != 2 {
		t.Errorf("%d batches, want the panic and its retry", n)
	}
}
