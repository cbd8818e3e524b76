package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
)

// Defaults of Config.
const (
	// DefaultRequeueAfter is how long a push may stay received before it is
	// queued again. It is longer than the slowest handling (a webhook's
	// five tries of at most 10 s each, with backoff) so that a push still
	// being handled is never queued twice once the queue's two-minute
	// duplicate window is over.
	DefaultRequeueAfter = 10 * time.Minute
	// DefaultRequeueInterval is how often Run looks for such pushes.
	DefaultRequeueInterval = time.Minute

	// durable is the queue consumer shared by every instance.
	durable = "inbox"
	// requeueBatch bounds the rows one requeue pass publishes.
	requeueBatch = 100
	// consumeBatch bounds the queued ids one worker takes at once: they are
	// loaded in one query and finished in one statement.
	consumeBatch = 64
)

// Config configures an Inbox. Zero fields take the defaults.
type Config struct {
	// Rules route pushes to handlers; with none every push is logged.
	Rules []Rule
	// Handlers are extra named handlers that rules may name.
	Handlers map[string]Handler
	// MaxAge is the accepted clock skew of a push's timestamp, both ways.
	// Default DefaultMaxAge.
	MaxAge time.Duration
	// MaxBody is the largest accepted push body. Default DefaultMaxBody.
	MaxBody int64
	// RequeueAfter and RequeueInterval tune the requeue of pushes whose
	// publish a crash may have lost.
	RequeueAfter    time.Duration
	RequeueInterval time.Duration
	// BatchTime bounds the handling of one batch of queued pushes (see
	// Dispatcher.BatchTime). Default DefaultBatchTime.
	BatchTime time.Duration
	// Webhook tunes the webhook handler.
	Webhook WebhookOptions
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives the log handler's lines, repeats (debug) and
	// requeue errors. nil discards them.
	Logger *slog.Logger
	// Observer counts pushes received and handled and the handling lag
	// (internal/metrics implements it). nil counts nothing.
	Observer Observer
	// State, when set, is the state store every instance shares: the
	// requeue then runs once per deployment per RequeueInterval
	// (miniback.TakeTurn) instead of once per instance.
	State miniback.StateStore
}

func (c Config) withDefaults() Config {
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.RequeueAfter <= 0 {
		c.RequeueAfter = DefaultRequeueAfter
	}
	if c.RequeueInterval <= 0 {
		c.RequeueInterval = DefaultRequeueInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Inbox owns the message-push flow: a push arrives at the Portal, is
// stored and queued; Run takes it off the queue and hands it to the
// Router. Every instance of miniback runs one over the same store and
// queue. It is safe for concurrent use.
type Inbox struct {
	// Portal is the endpoint /wx/portal/{appid}.
	Portal     *Portal
	dispatcher *Dispatcher
	q          *queue.Queue
	cfg        Config
}

// New checks and compiles the rules and returns an Inbox over the store and
// queue. media receives the verdicts of wxa_media_check pushes (a built-in
// rule that runs before cfg.Rules); replies queues auto_reply's messages.
// It returns an error naming the rule for a rule NewRouter refuses
// (rules[0] is the first of cfg.Rules).
func New(apps miniback.Apps, store miniback.InboxStore, media miniback.MediaStore, q *queue.Queue, replies Enqueuer, cfg Config) (*Inbox, error) {
	cfg = cfg.withDefaults()
	rules := cfg.Rules
	if len(rules) == 0 {
		rules = []Rule{{Handler: HandlerLog}}
	}
	opts := []Option{WithLogger(cfg.Logger), WithReplies(replies), WithWebhookOptions(cfg.Webhook), WithObserver(cfg.Observer),
		WithHandler(HandlerMediaCheck, mediaCheckHandler{media: media, log: cfg.Logger, now: cfg.Now})}
	for name, h := range cfg.Handlers {
		opts = append(opts, WithHandler(name, h))
	}
	// The built-in rule is compiled apart so that errors count cfg.Rules from 0.
	builtin, err := NewRouter([]Rule{mediaCheckRule}, opts...)
	if err != nil {
		return nil, err
	}
	router, err := NewRouter(rules, opts...)
	if err != nil {
		return nil, err
	}
	router.rules = append(builtin.rules, router.rules...)
	in := &Inbox{q: q, cfg: cfg}
	in.Portal = &Portal{Apps: apps, Inbox: store, Queue: q, MaxAge: cfg.MaxAge, MaxBody: cfg.MaxBody,
		Now: cfg.Now, Logger: cfg.Logger, Observer: cfg.Observer}
	in.dispatcher = &Dispatcher{Inbox: store, Router: router, Now: cfg.Now, Observer: cfg.Observer, BatchTime: cfg.BatchTime}
	return in, nil
}

// ServeVerify is the Portal's ServeVerify.
func (in *Inbox) ServeVerify(w http.ResponseWriter, r *http.Request) error {
	return in.Portal.ServeVerify(w, r)
}

// ServeMessage is the Portal's ServeMessage.
func (in *Inbox) ServeMessage(w http.ResponseWriter, r *http.Request) error {
	return in.Portal.ServeMessage(w, r)
}

// Run consumes the inbox subjects of every app and requeues lost publishes
// every Config.RequeueInterval until ctx ends; it then waits for the
// handlers in flight to finish their rows and returns nil. It returns an
// error at once when the queue consumer cannot be created.
func (in *Inbox) Run(ctx context.Context) error {
	c, err := in.q.ConsumeBatch(ctx, durable, in.q.Subject(subjectKind, "*"), 0, consumeBatch, in.consume)
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	defer c.Stop()
	t := time.NewTicker(in.cfg.RequeueInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if in.cfg.State != nil {
			if ok, err := miniback.TakeTurn(ctx, in.cfg.State, "inbox-requeue", in.cfg.RequeueInterval, time.Now()); err != nil || !ok {
				continue
			}
		}
		n, err := in.Portal.Requeue(ctx, in.cfg.RequeueAfter, requeueBatch)
		switch {
		case err != nil && ctx.Err() == nil:
			in.cfg.Logger.Warn("inbox: requeue of received pushes failed", slog.String("error", err.Error()))
		case n > 0:
			in.cfg.Logger.Info("inbox: requeued received pushes", slog.Int("count", n))
		}
	}
}

// consume handles a batch of queued inbox ids, those of each app (named
// by the subject) together.
func (in *Inbox) consume(ctx context.Context, ds []*queue.Delivery) []error {
	errs := make([]error, len(ds))
	prefix := in.q.Subject(subjectKind, "")
	var apps []string
	byApp := map[string][]int{} // appid → indexes into ds
	ids := make([]int64, len(ds))
	for i, d := range ds {
		appid, ok := strings.CutPrefix(d.Subject, prefix)
		if !ok {
			errs[i] = queue.Drop(fmt.Errorf("inbox: unexpected subject %q", d.Subject))
			continue
		}
		if ids[i], errs[i] = ParseInboxID(d.Data); errs[i] != nil {
			errs[i] = queue.Drop(errs[i])
			continue
		}
		if _, ok := byApp[appid]; !ok {
			apps = append(apps, appid)
		}
		byApp[appid] = append(byApp[appid], i)
	}
	for _, appid := range apps {
		in.consumeApp(ctx, appid, byApp[appid], ids, errs)
	}
	return errs
}

// consumeApp handles the deliveries ds[idx…] of appid and sets their errs.
func (in *Inbox) consumeApp(ctx context.Context, appid string, idx []int, ids []int64, errs []error) {
	appIDs := make([]int64, len(idx))
	for j, i := range idx {
		appIDs[j] = ids[i]
	}
	res, err := in.dispatcher.HandleBatch(ctx, appid, appIDs)
	for _, i := range idx {
		switch {
		case err != nil:
			errs[i] = err
		case slices.Contains(res.Missing, ids[i]):
			errs[i] = queue.Drop(fmt.Errorf("inbox: %s %d: %w", appid, ids[i], miniback.Errorf(miniback.ECodeNotFound, "inbox message not found")))
		case slices.Contains(res.Deferred, ids[i]):
			errs[i] = queue.RetryAfter(0, nil)
		}
	}
}
