package inbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/push"
)

// Names of the built-in handlers.
const (
	HandlerLog       = "log"
	HandlerAutoReply = "auto_reply"
	HandlerWebhook   = "webhook"
	// HandlerMediaCheck records a wxa_media_check verdict on its check;
	// it runs on every such push before the configured rules.
	HandlerMediaCheck = "media_check"
)

// Rule is one routing rule (cmd/miniback converts config.PushRule to it). Every non-empty match field
// (AppID, MsgType, Event, Content, ContentRegex) must match; rules are
// tried in order and the first match stops the search unless Continue is
// set. Handler names a built-in (log, auto_reply, webhook) or a handler
// given with WithHandler.
type Rule struct {
	AppID        string
	MsgType      string
	Event        string
	Content      string // exact match
	ContentRegex string // RE2, unanchored
	Handler      string
	Continue     bool
	// auto_reply: exactly one of them.
	ReplyText    string
	ReplyMediaID string
	// webhook: both required. WebhookSecret is a secret.
	WebhookURL    string
	WebhookSecret string
}

// LogValue implements slog.LogValuer: the webhook secret is never logged.
func (r Rule) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", r.AppID), slog.String("msg_type", r.MsgType),
		slog.String("event", r.Event), slog.String("handler", r.Handler))
}

// Handler handles one inbox message. m is in.Message parsed. Handlers run
// off the request path, possibly again after a crash (at-least-once); a
// returned error marks the message failed.
type Handler interface {
	Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
	return f(ctx, m, in)
}

// Enqueuer queues an outbound message durably: *outbox.Outbox. auto_reply
// sends its customer-service replies through it.
type Enqueuer interface {
	Enqueue(ctx context.Context, m *miniback.Message) error
}

// Router runs the handlers of the rules that match a message. Rules are
// compiled, and handler names resolved, by NewRouter; the Router is then
// read-only and safe for concurrent use.
type Router struct {
	rules    []compiledRule
	logger   *slog.Logger
	replies  Enqueuer
	webhook  WebhookOptions
	handlers map[string]Handler
	observer Observer
}

type compiledRule struct {
	Rule
	re      *regexp.Regexp
	handler Handler
}

// Option configures a Router.
type Option func(*Router)

// WithLogger sets the logger of the log handler (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.logger = l } }

// WithReplies sets the queue of auto_reply's customer-service messages;
// auto_reply rules are rejected by NewRouter without one.
func WithReplies(q Enqueuer) Option { return func(r *Router) { r.replies = q } }

// WithWebhookOptions sets the HTTP client, retries and clock of webhook
// rules.
func WithWebhookOptions(o WebhookOptions) Option { return func(r *Router) { r.webhook = o } }

// WithObserver sets who is told of every handler run (default: nobody).
func WithObserver(o Observer) Option { return func(r *Router) { r.observer = o } }

// WithHandler registers a named handler, so rules may name it. A handler
// registered under a built-in name replaces the built-in.
func WithHandler(name string, h Handler) Option {
	return func(r *Router) { r.handlers[name] = h }
}

// NewRouter checks and compiles rules. It returns an error naming the rule
// index for an empty or unknown handler name, a bad content_regex, an
// auto_reply without exactly one reply (or without a Replier), or a
// webhook without an http(s) URL or a secret.
func NewRouter(rules []Rule, opts ...Option) (*Router, error) {
	r := &Router{handlers: map[string]Handler{}}
	for _, o := range opts {
		o(r)
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	r.webhook = r.webhook.withDefaults()
	r.observer = observerOr(r.observer)
	for i, rule := range rules {
		c, err := r.compile(rule)
		if err != nil {
			return nil, fmt.Errorf("inbox: rules[%d]: %w", i, err)
		}
		r.rules = append(r.rules, c)
	}
	return r, nil
}

func (r *Router) compile(rule Rule) (compiledRule, error) {
	c := compiledRule{Rule: rule}
	if rule.ContentRegex != "" {
		re, err := regexp.Compile(rule.ContentRegex)
		if err != nil {
			return c, fmt.Errorf("content_regex: %w", err)
		}
		c.re = re
	}
	if h, ok := r.handlers[rule.Handler]; ok {
		c.handler = h
		return c, nil
	}
	var err error
	switch rule.Handler {
	case HandlerLog:
		c.handler = logHandler{logger: r.logger}
	case HandlerAutoReply:
		c.handler, err = r.autoReply(rule)
	case HandlerWebhook:
		c.handler, err = r.newWebhook(rule)
	case "":
		err = fmt.Errorf("handler is required")
	default:
		err = fmt.Errorf("unknown handler %q", rule.Handler)
	}
	return c, err
}

func (r *Router) autoReply(rule Rule) (Handler, error) {
	if (rule.ReplyText == "") == (rule.ReplyMediaID == "") {
		return nil, fmt.Errorf("auto_reply needs exactly one of reply_text and reply_media_id")
	}
	if r.replies == nil {
		return nil, fmt.Errorf("auto_reply needs a customer-service sender")
	}
	return autoReplyHandler{replies: r.replies, text: rule.ReplyText, mediaID: rule.ReplyMediaID}, nil
}

func (r *Router) newWebhook(rule Rule) (Handler, error) {
	u, err := url.Parse(rule.WebhookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook_url must be an absolute http(s) URL")
	}
	if rule.WebhookSecret == "" {
		return nil, fmt.Errorf("webhook_secret is required")
	}
	return &webhookHandler{url: rule.WebhookURL, secret: []byte(rule.WebhookSecret), opts: r.webhook}, nil
}

func (c *compiledRule) matches(appid string, m *push.Message) bool {
	switch {
	case c.AppID != "" && c.AppID != appid,
		c.MsgType != "" && !strings.EqualFold(c.MsgType, m.MsgType),
		c.Event != "" && !strings.EqualFold(c.Event, m.Event),
		c.Content != "" && c.Content != m.Content,
		c.re != nil && !c.re.MatchString(m.Content):
		return false
	}
	return true
}

// handledResult names a handler failure: retried when ctx ended (the push
// stays received for redelivery), else failed.
func handledResult(ctx context.Context) string {
	if ctx.Err() != nil {
		return HandledRetried
	}
	return HandledFailed
}

// Dispatch parses in.Message and runs the handlers of the matching rules
// in order. It stops at the first handler error and returns it wrapped
// with the rule index; a message no rule matches is not an error.
func (r *Router) Dispatch(ctx context.Context, in *miniback.InboxMessage) error {
	m, err := push.Parse(push.FormatJSON, in.Message)
	if err != nil {
		return fmt.Errorf("inbox: dispatch %d: %w", in.ID, err)
	}
	for i := range r.rules {
		c := &r.rules[i]
		if !c.matches(in.AppID, m) {
			continue
		}
		if err := c.handler.Handle(ctx, m, in); err != nil {
			r.observer.PushHandled(c.Handler, handledResult(ctx))
			return fmt.Errorf("inbox: rules[%d] (%s): %w", i, c.Handler, err)
		}
		r.observer.PushHandled(c.Handler, HandledOK)
		if !c.Continue {
			break
		}
	}
	return nil
}
