package push

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/miniback/miniback"
)

// Names of the built-in handlers.
const (
	HandlerLog       = "log"
	HandlerAutoReply = "auto_reply"
	HandlerWebhook   = "webhook"
)

// Rule is one routing rule from configuration. Every non-empty match field
// (AppID, MsgType, Event, Content, ContentRegex) must match; rules are
// tried in order and the first match stops the search unless Continue is
// set. Handler names a built-in (log, auto_reply, webhook) or a handler
// given with WithHandler.
type Rule struct {
	AppID        string `yaml:"appid" json:"appid"`
	MsgType      string `yaml:"msg_type" json:"msg_type"`
	Event        string `yaml:"event" json:"event"`
	Content      string `yaml:"content" json:"content"`             // exact match
	ContentRegex string `yaml:"content_regex" json:"content_regex"` // RE2, unanchored
	Handler      string `yaml:"handler" json:"handler"`
	Continue     bool   `yaml:"continue" json:"continue"`
	// auto_reply: exactly one of them.
	ReplyText    string `yaml:"reply_text" json:"reply_text"`
	ReplyMediaID string `yaml:"reply_media_id" json:"reply_media_id"`
	// webhook: both required. WebhookSecret is a secret.
	WebhookURL    string `yaml:"webhook_url" json:"webhook_url"`
	WebhookSecret string `yaml:"webhook_secret" json:"webhook_secret"`
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
	Handle(ctx context.Context, m *Message, in *miniback.InboxMessage) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *Message, in *miniback.InboxMessage) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m *Message, in *miniback.InboxMessage) error {
	return f(ctx, m, in)
}

// Replier sends a customer-service message (protocol §e.1). payload is the
// JSON body of /cgi-bin/message/custom/send, touser included.
type Replier interface {
	ReplyCustomer(ctx context.Context, appid, openid string, payload json.RawMessage) error
}

// Router runs the handlers of the rules that match a message. Rules are
// compiled and checked by NewRouter; handler names are resolved when a
// message is dispatched, so Register may add or replace a handler at any
// time. It is safe for concurrent use.
type Router struct {
	rules    []compiledRule
	logger   *slog.Logger
	replier  Replier
	webhook  WebhookOptions
	mu       sync.RWMutex
	handlers map[string]Handler
}

type compiledRule struct {
	Rule
	re      *regexp.Regexp
	builtin Handler // nil for registered handlers
}

// Option configures a Router.
type Option func(*Router)

// WithLogger sets the logger of the log handler (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.logger = l } }

// WithReplier sets the customer-service sender of auto_reply rules; they
// are rejected by NewRouter without one.
func WithReplier(rp Replier) Option { return func(r *Router) { r.replier = rp } }

// WithWebhookOptions sets the HTTP client, retries and clock of webhook
// rules.
func WithWebhookOptions(o WebhookOptions) Option { return func(r *Router) { r.webhook = o } }

// WithHandler registers a named handler before the rules are checked, so
// rules may name it.
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
	for i, rule := range rules {
		c, err := r.compile(rule)
		if err != nil {
			return nil, fmt.Errorf("push: rules[%d]: %w", i, err)
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
	var err error
	switch rule.Handler {
	case HandlerLog:
		c.builtin = logHandler{logger: r.logger}
	case HandlerAutoReply:
		c.builtin, err = r.autoReply(rule)
	case HandlerWebhook:
		c.builtin, err = r.newWebhook(rule)
	case "":
		err = fmt.Errorf("handler is required")
	default:
		if _, ok := r.handlers[rule.Handler]; !ok {
			err = fmt.Errorf("unknown handler %q", rule.Handler)
		}
	}
	return c, err
}

func (r *Router) autoReply(rule Rule) (Handler, error) {
	if (rule.ReplyText == "") == (rule.ReplyMediaID == "") {
		return nil, fmt.Errorf("auto_reply needs exactly one of reply_text and reply_media_id")
	}
	if r.replier == nil {
		return nil, fmt.Errorf("auto_reply needs a customer-service sender")
	}
	return autoReplyHandler{replier: r.replier, text: rule.ReplyText, mediaID: rule.ReplyMediaID}, nil
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

// Register adds or replaces the handler for name. Rules given to
// NewRouter may name it only if it was also given with WithHandler (so
// that typos fail at start); Register may then swap it at any time.
func (r *Router) Register(name string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[name] = h
}

func (r *Router) handler(c *compiledRule) (Handler, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.handlers[c.Handler]; ok {
		return h, true // a registered handler overrides a built-in name
	}
	return c.builtin, c.builtin != nil
}

// Match returns the rules that match m for appid, in order, stopping after
// the first match without Continue.
func (r *Router) Match(appid string, m *Message) []Rule {
	var out []Rule
	for i := range r.rules {
		if c := &r.rules[i]; c.matches(appid, m) {
			out = append(out, c.Rule)
			if !c.Continue {
				break
			}
		}
	}
	return out
}

func (c *compiledRule) matches(appid string, m *Message) bool {
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

// Dispatch parses in.Message and runs the handlers of the matching rules
// in order. It stops at the first handler error and returns it wrapped
// with the rule index; a message no rule matches is not an error.
func (r *Router) Dispatch(ctx context.Context, in *miniback.InboxMessage) error {
	m, err := Parse(FormatJSON, in.Message)
	if err != nil {
		return fmt.Errorf("push: dispatch inbox %d: %w", in.ID, err)
	}
	for i := range r.rules {
		c := &r.rules[i]
		if !c.matches(in.AppID, m) {
			continue
		}
		h, ok := r.handler(c)
		if !ok {
			return fmt.Errorf("push: rules[%d]: handler %q is not registered", i, c.Handler)
		}
		if err := h.Handle(ctx, m, in); err != nil {
			return fmt.Errorf("push: rules[%d] (%s): %w", i, c.Handler, err)
		}
		if !c.Continue {
			break
		}
	}
	return nil
}
