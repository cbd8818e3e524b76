package queue

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// externalURL is the NATS server CI starts next to the tests.
const externalURL = "nats://127.0.0.1:4222"

// waitTimeout bounds every wait for an event; reaching it fails the test.
const waitTimeout = 15 * time.Second

// backend fills a Config for one kind of server; Opening the same Config
// again reaches the same storage (DataDir, or stream on the external server).
type backend struct {
	name string
	open func(t *testing.T, cfg Config) Config
}

var backends = []backend{
	{name: "embedded", open: embeddedConfig},
	{name: "external", open: externalConfig},
}

func embeddedConfig(t *testing.T, cfg Config) Config {
	cfg.DataDir = t.TempDir()
	return cfg
}

// externalConfig gives the test its own stream and subject prefix on the
// shared server and deletes the stream when the test ends.
//
// On a machine without that server (a newcomer's fresh clone) the test is
// skipped with a message saying how to include it; under CI, or with
// REQUIRE_TEST_SERVERS set (.ci/run sets it after starting the server), a
// missing server fails the test instead.
func externalConfig(t *testing.T, cfg Config) Config {
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(externalURL, "nats://"), time.Second); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			t.Fatalf("no NATS server at %s: %v", externalURL, err)
		}
		t.Skipf("no NATS server at %s; bash .ci/run starts one and runs these tests", externalURL)
	} else {
		conn.Close()
	}
	id := rand.Text()[:10]
	cfg.URL = externalURL
	cfg.Stream = "TEST_" + id
	cfg.SubjectPrefix = "test" + id
	t.Cleanup(func() { deleteStream(t, cfg.Stream) })
	return cfg
}

func deleteStream(t *testing.T, stream string) {
	nc, err := nats.Connect(externalURL)
	if err != nil {
		t.Errorf("cleanup connect: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("cleanup jetstream: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Errorf("cleanup delete stream %s: %v", stream, err)
	}
}

// mustOpen opens a Queue closed at the end of the test.
func mustOpen(t *testing.T, cfg Config) *Queue {
	t.Helper()
	q, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func mustPublish(t *testing.T, q *Queue, subject, data, msgID string) {
	t.Helper()
	if err := q.Publish(t.Context(), subject, []byte(data), msgID); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func mustConsume(t *testing.T, q *Queue, durable, filter string, h Handler) *Consumer {
	t.Helper()
	c, err := q.Consume(t.Context(), durable, filter, h)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// event is one delivery seen by a recorder.
type event struct {
	Delivery
	at time.Time
}

// recorder is a Handler's log of deliveries, with a channel per delivery.
type recorder struct {
	mu   sync.Mutex
	seen []Delivery
	ch   chan event
}

func newRecorder() *recorder { return &recorder{ch: make(chan event, 1000)} }

func (r *recorder) record(d *Delivery) {
	r.mu.Lock()
	r.seen = append(r.seen, *d)
	r.mu.Unlock()
	r.ch <- event{Delivery: *d, at: time.Now()}
}

func (r *recorder) count(data string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, d := range r.seen {
		if string(d.Data) == data {
			n++
		}
	}
	return n
}

// next waits for the next delivery.
func (r *recorder) next(t *testing.T) event {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery within %s", waitTimeout)
		return event{}
	}
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamMsgs is the number of messages the stream still holds.
func streamMsgs(ctx context.Context, q *Queue) (uint64, error) {
	s, err := q.js.Stream(ctx, q.cfg.Stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

func waitEmpty(t *testing.T, q *Queue) {
	t.Helper()
	eventually(t, "stream empty", func() (bool, error) {
		n, err := streamMsgs(t.Context(), q)
		return n == 0, err
	})
}

func consumerInfo(t *testing.T, q *Queue, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := q.js.Consumer(t.Context(), q.cfg.Stream, durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return info
}
