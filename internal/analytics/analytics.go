package analytics

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
)

// Config configures a Service. Zero values take the defaults on each field.
type Config struct {
	// Anonymous accepts events without a user, keyed by their device_id.
	Anonymous bool
	// MaxPerUserPerDay caps the events of one actor per day of Loc.
	// Default 10,000.
	MaxPerUserPerDay int
	// Loc is where days begin for rollups and queries. Default Asia/Shanghai.
	Loc *time.Location
	// DatacubeAt is the Beijing time of day of the daily pull, from
	// midnight (0 is midnight); DatacubeOff disables it.
	DatacubeAt  time.Duration
	DatacubeOff bool
	// RetainEvents is how long raw events are kept. Default 90 days.
	RetainEvents time.Duration
	// Tick is how often Run looks at the clock for the daily jobs. Default 1 min.
	Tick time.Duration
	// RetryBase is the first delay of a datacube pull that WeChat answered
	// 61503, empty or with a passing error; it doubles up to RetryMax.
	// Defaults 5 min and 1 h.
	RetryBase, RetryMax time.Duration
	// Lease is how long the daily pull's and a backfill's lease in the
	// state store outlives an instance that stopped renewing it (it died);
	// another instance then takes the work over. Default 2 min.
	Lease time.Duration
	// Writers is how many consumer workers pull queued batches at once
	// (each up to 64 messages in one pull), and so how many pulls one
	// commit may take. Default 4.
	Writers int
	// WriteWait is how long the writer keeps gathering pulls after the
	// first one of a commit, unless it holds Writers pulls or
	// MaxWriteEvents events before. Default 5ms.
	WriteWait time.Duration
	// MaxWriteEvents ends the gathering of a commit. Default 5,000.
	MaxWriteEvents int
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxPerUserPerDay <= 0 {
		c.MaxPerUserPerDay = 10000
	}
	if c.Loc == nil {
		c.Loc = beijing
	}
	if c.RetainEvents <= 0 {
		c.RetainEvents = 90 * 24 * time.Hour
	}
	if c.Tick <= 0 {
		c.Tick = time.Minute
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 5 * time.Minute
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Writers <= 0 {
		c.Writers = 4
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 5 * time.Millisecond
	}
	if c.MaxWriteEvents <= 0 {
		c.MaxWriteEvents = 5000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Consumer is the durable queue consumer of event batches (its pending
// messages are miniback_queue_pending_messages{consumer="analytics-events"}).
const Consumer = "analytics-events"

// beijing is WeChat's day, in which the datacube counts.
var beijing = time.FixedZone("CST", 8*3600)

// Datacuber is the part of the WeChat client the pulls use
// (*wechat.Client implements it).
type Datacuber interface {
	Datacube(ctx context.Context, name, begin, end string) (json.RawMessage, error)
}

// Service is the analytics flow. Create it with New.
type Service struct {
	cfg    Config
	events miniback.EventStore
	cube   miniback.DatacubeStore
	state  miniback.StateStore
	queue  *queue.Queue
	wechat map[string]Datacuber // by appid
	log    *slog.Logger

	writes chan *writeReq
	logins loginPublisher

	mu   sync.Mutex
	jobs sync.WaitGroup
	bg   context.Context // background work (backfills); set by Run, nil before
}

// New returns a Service. q may be nil for a Service that only pulls and
// reads (Ingest then fails with unavailable).
func New(cfg Config, events miniback.EventStore, cube miniback.DatacubeStore, state miniback.StateStore, q *queue.Queue, clients map[string]Datacuber) *Service {
	cfg = cfg.withDefaults()
	return &Service{cfg: cfg, events: events, cube: cube, state: state, queue: q, wechat: clients,
		log: cfg.Logger, writes: make(chan *writeReq),
		logins: loginPublisher{open: map[string]*loginGroup{}}}
}

// Run consumes queued event batches and writes them, runs the daily
// datacube pull and the raw-event cleanup, until ctx ends; it then waits
// for the batches being written and the backfills running to finish.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	s.bg = ctx
	s.mu.Unlock()
	var wg sync.WaitGroup
	if s.queue != nil {
		writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
		wg.Go(func() { s.writeLoop(writerCtx) })
		c, err := s.queue.ConsumeBatch(ctx, Consumer, s.queue.Subject("events", "*"), s.cfg.Writers, pullBatch, s.handleBatches)
		if err != nil {
			stopWriter()
			wg.Wait()
			return err
		}
		defer func() {
			c.Stop() // handlers in flight finish and are acknowledged
			stopWriter()
			wg.Wait()
		}()
	}
	s.tickLoop(ctx)
	s.jobs.Wait()
	return nil
}

// tickLoop runs the daily work each Tick until ctx ends.
func (s *Service) tickLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) tick(ctx context.Context) {
	now := s.cfg.Now()
	if !s.cfg.DatacubeOff {
		s.maybeDailyPull(ctx, now)
	}
	if len(s.wechat) > 0 {
		s.resumeJobs(ctx)
	}
	s.maybeCleanup(ctx, now)
}

// maybeCleanup removes raw events past retention, once an hour per
// deployment.
func (s *Service) maybeCleanup(ctx context.Context, now time.Time) {
	key := "analytics:cleanup:" + now.UTC().Format("2006010215")
	if ok, err := s.state.SetNX(ctx, key, "1", 2*time.Hour); err != nil || !ok {
		return
	}
	n, err := s.events.DeleteEventsBefore(ctx, now.Add(-s.cfg.RetainEvents))
	if err != nil {
		s.log.Error("analytics: delete old events", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("analytics: deleted raw events past retention", "events", n)
	}
}

// background returns the context of Run, or nil before Run.
func (s *Service) background() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bg
}

// Anonymous reports whether events are taken without an access token.
func (s *Service) Anonymous() bool { return s.cfg.Anonymous }
