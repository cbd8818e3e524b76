package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Config.
const (
	DefaultStream        = "MINIBACK"
	DefaultSubjectPrefix = "miniback"
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 20
	DefaultRetryDelay    = time.Second
	DefaultWorkers       = 4

	// duplicateWindow is how long JetStream remembers a Nats-Msg-Id.
	duplicateWindow = 2 * time.Minute
	// maxRetryDelay caps the backoff of handler errors that are neither
	// RetryAfter nor Drop.
	maxRetryDelay = time.Minute
)

// ErrConnect is wrapped by Open's error when no server of Config.URL
// accepts the connection: unreachable, or the credentials refused. Its
// text never holds the URL's password.
var ErrConnect = errors.New("queue: connect")

// Config configures Open. The zero value except DataDir opens an embedded
// server with the defaults.
type Config struct {
	// URL is "" for an embedded server, or the external servers as
	// "nats://h:4222[,nats://h2:4222]" (credentials may be in the URL).
	URL string
	// DataDir holds the embedded server's storage, under DataDir/nats.
	// Unused with an external server.
	DataDir string
	// Logger receives connection events and the embedded server's log.
	// nil discards them.
	Logger *slog.Logger
	// AckWait is how long a delivered message may go without an ack or a
	// heartbeat before it is redelivered. Default 30s.
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of one message; after the last one
	// fails the message is dropped. Default 20; -1 is unlimited.
	MaxDeliver int
	// RetryDelay is the redelivery delay after the first plain handler
	// error; it doubles with each attempt up to one minute. Default 1s.
	RetryDelay time.Duration
	// Workers is how many handlers of one Consume run at once. Default 4.
	Workers int
	// Stream is the JetStream stream name. Default "MINIBACK".
	Stream string
	// SubjectPrefix is the first token of every subject. Default "miniback";
	// the stream covers SubjectPrefix+".>".
	SubjectPrefix string
	// Replicas is how many servers of a NATS cluster hold the stream and
	// its consumers (1, 3 or 5); 0 means 1. The embedded server has one.
	Replicas int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	return c
}

// Queue is a connection to JetStream with miniback's stream. It is safe for
// concurrent use.
type Queue struct {
	cfg Config
	srv *server.Server // nil with an external server
	nc  *nats.Conn
	js  jetstream.JetStream

	mu        sync.Mutex
	consumers map[*Consumer]struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open connects to the queue, starting the embedded server first when
// cfg.URL is "", and creates or updates the stream. Opening is idempotent
// and safe from several instances at once. The caller must Close the Queue.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	q := &Queue{cfg: cfg, consumers: make(map[*Consumer]struct{})}
	opts := q.connectOptions()
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg.DataDir, cfg.Logger)
		if err != nil {
			return nil, err
		}
		q.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		q.shutdownServer()
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	q.nc = nc
	if q.js, err = jetstream.New(nc); err != nil {
		q.closeConn()
		return nil, fmt.Errorf("queue: jetstream: %w", err)
	}
	if err := q.ensureStream(ctx); err != nil {
		q.closeConn()
		return nil, err
	}
	return q, nil
}

func (q *Queue) connectOptions() []nats.Option {
	log := q.cfg.Logger
	return []nats.Option{
		nats.Name("miniback"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("queue: disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("queue: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Error("queue: async error", "err", err)
		}),
	}
}

// ensureStream creates or updates the stream. Two instances starting at
// once may both find it missing; the loser of the create retries as an update.
func (q *Queue) ensureStream(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:        q.cfg.Stream,
		Description: "miniback work queue",
		Subjects:    []string{q.cfg.SubjectPrefix + ".>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  duplicateWindow,
		Replicas:    q.cfg.Replicas,
	}
	_, err := q.js.CreateOrUpdateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		_, err = q.js.CreateOrUpdateStream(ctx, cfg)
	}
	if err != nil {
		return fmt.Errorf("queue: stream %s: %w", q.cfg.Stream, err)
	}
	return nil
}

// Subject returns the subject of kind ("inbox" or "outbox") for appid, such
// as "miniback.outbox.wx123".
func (q *Queue) Subject(kind, appid string) string {
	return strings.Join([]string{q.cfg.SubjectPrefix, kind, appid}, ".")
}

// Publish stores data on subject and returns after JetStream acknowledged
// it, so the message survives a crash of this process. A non-empty msgID
// sets Nats-Msg-Id: a second publish with the same msgID within two minutes
// is acknowledged but dropped.
func (q *Queue) Publish(ctx context.Context, subject string, data []byte, msgID string) error {
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	opts = append(opts, jetstream.WithExpectStream(q.cfg.Stream))
	if _, err := q.js.Publish(ctx, subject, data, opts...); err != nil {
		return fmt.Errorf("queue: publish %s: %w", subject, err)
	}
	return nil
}

// Pending returns the messages of the durable consumer not yet
// acknowledged: waiting to be delivered plus delivered and in flight. It
// fails when the consumer does not exist (yet) or JetStream does not answer.
func (q *Queue) Pending(ctx context.Context, durable string) (uint64, error) {
	c, err := q.js.Consumer(ctx, q.cfg.Stream, durable)
	if err != nil {
		return 0, fmt.Errorf("queue: consumer %s: %w", durable, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue: consumer %s: %w", durable, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Ping checks that the connection is up and that the stream takes a
// write: it stores a probe message on <prefix>.probe (a subject no
// consumer reads) and deletes it again, so a stream that is full, or a
// JetStream that lost its quorum or its storage, fails it.
func (q *Queue) Ping(ctx context.Context) error {
	if s := q.nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("queue: ping: connection %s", s)
	}
	ack, err := q.js.Publish(ctx, q.cfg.SubjectPrefix+".probe", nil, jetstream.WithExpectStream(q.cfg.Stream))
	if err != nil {
		return fmt.Errorf("queue: ping: %w", err)
	}
	stream, err := q.js.Stream(ctx, q.cfg.Stream)
	if err == nil {
		err = stream.DeleteMsg(ctx, ack.Sequence)
	}
	if err != nil {
		return fmt.Errorf("queue: ping: %w", err)
	}
	return nil
}

// Close stops every Consumer from fetching, cancels the contexts of their
// running handlers without waiting for them (their acks then fail and the
// messages are redelivered later), drains the connection and stops the
// embedded server. Stop consumers first for a graceful shutdown. Close is
// idempotent; later calls return the first call's error.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() { q.closeErr = q.close() })
	return q.closeErr
}

func (q *Queue) close() error {
	q.mu.Lock()
	consumers := q.consumers
	q.consumers = make(map[*Consumer]struct{})
	q.mu.Unlock()
	for c := range consumers {
		c.abort()
	}
	err := q.closeConn()
	q.shutdownServer()
	return err
}

func (q *Queue) closeConn() error {
	done := make(chan struct{})
	q.nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := q.nc.Drain(); err != nil {
		q.nc.Close()
		return fmt.Errorf("queue: drain: %w", err)
	}
	<-done
	return nil
}

func (q *Queue) shutdownServer() {
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv.WaitForShutdown()
	}
}

func (q *Queue) track(c *Consumer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.consumers[c] = struct{}{}
}

func (q *Queue) untrack(c *Consumer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.consumers, c)
}
