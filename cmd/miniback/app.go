package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/analytics"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/housekeeping"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/internal/metrics"
	"github.com/miniback/miniback/internal/outbox"
	"github.com/miniback/miniback/internal/pay"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/internal/session"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/state/redis"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechat"
)

// Main is the whole process: every component opened in readable sections,
// chosen by plain switches on URL schemes. Tests run the same Main on :0.
type Main struct {
	Config config.Config
	Logger *slog.Logger
	Stdout io.Writer // the sandbox-mode banner goes here

	DB        *database
	State     miniback.StateStore
	Queue     *queue.Queue
	Outbox    *outbox.Outbox
	Inbox     *inbox.Inbox
	Analytics *analytics.Service
	// Housekeeper purges old rows, once per deployment per interval.
	Housekeeper *housekeeping.Housekeeper
	Sandbox     *sandbox.Server // set when wechat.api_base is "sandbox"
	Pay         *pay.Service    // nil when the engine stores no orders
	API         *api.Server

	Registry *prometheus.Registry // every metric of this process
	Metrics  *metrics.Metrics

	// The edge: gateway routes (nil without any), WeChat's circuit
	// breakers, and TLS.
	Gateway        *gateway.Gateway
	WeChatBreakers *gateway.HostBreakers
	tls            *tls.Config

	listener        net.Listener
	server          *http.Server
	metricsListener net.Listener // metrics.listen, when set
	metricsServer   *http.Server

	tuneOutbox    func(*outbox.Config)    // tests shorten the retry delays
	tuneAnalytics func(*analytics.Config) // tests move the clock and shorten delays
	tunePay       func(*pay.Service)      // tests shorten the tick and move the clock
}

// Open opens the database, the state store, the keys, the WeChat clients
// (and the embedded sandbox) and binds the listener. On error, whatever was
// opened is closed again.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	cfg := m.Config
	m.Logger.Info("starting miniback", slog.Any("config", cfg))
	privateUmask()
	m.openMetrics()

	// Database.
	if m.DB, err = openDatabase(ctx, cfg); err != nil {
		return err
	}
	if cfg.Database.AutoMigrate {
		if err = m.DB.Migrate(ctx); err != nil {
			return err
		}
	}

	// State store.
	if m.State, err = openState(ctx, cfg); err != nil {
		return err
	}

	// Keys.
	signingKey, sealer, err := openKeys(cfg)
	if err != nil {
		return err
	}

	// Listener: bound before the WeChat clients so the embedded sandbox
	// can be reached at this server's own address.
	if m.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if err = m.openMetricsListener(); err != nil {
		return err
	}

	// TLS: HTTPS on the listener when a certificate is configured.
	if m.tls, err = tlsConfig(cfg, m.Logger.With("component", "tls")); err != nil {
		return err
	}

	// WeChat: the real API, or the embedded sandbox on this same server,
	// behind one circuit breaker per host.
	apiBase := cfg.WeChat.APIBase
	if apiBase == config.APIBaseSandbox {
		scheme := "http://"
		if m.tls != nil {
			scheme = "https://"
		}
		apiBase = scheme + loopbackAddr(m.listener.Addr().String())
		m.Sandbox = sandbox.New(sandbox.Config{Apps: sandboxApps(cfg.Apps, apiBase), Logger: m.Logger.With("component", "sandbox"),
			PayTimeScale: cfg.SandboxOpts.PayTimeScale})
		m.warnExposedSandbox(m.listener.Addr().String())
	}
	if m.WeChatBreakers, err = weChatTransport(cfg, m.Metrics, m.Logger); err != nil {
		return err
	}
	clients := newWeChatClients(cfg, apiBase, m.State, m.Metrics, m.Logger, m.WeChatBreakers)

	// Queue and outbound messages.
	if m.Queue, err = queue.Open(ctx, queue.Config{URL: cfg.Queue.URL, AckWait: cfg.Queue.AckWait, DataDir: cfg.DataDir,
		Stream: strings.ToUpper(cfg.Queue.Prefix), SubjectPrefix: cfg.Queue.Prefix, Replicas: cfg.Queue.Replicas, Logger: m.Logger.With("component", "queue")}); err != nil {
		if cfg.Queue.URL != "" && errors.Is(err, queue.ErrConnect) {
			return &config.Error{Key: "queue.url", Msg: "cannot connect", Err: err}
		}
		return err
	}
	m.registerPoolMetrics(m.DB.PoolStats)
	messages := m.DB.Messages
	outboxCfg := m.outboxConfig()
	wechatHost := hostOf(apiBase)
	outboxCfg.Wait = func() time.Duration { return m.WeChatBreakers.Wait(wechatHost) }
	m.Outbox = outbox.New(messages, m.Queue, outbox.NewWeChatSender(clients), outboxCfg)

	// Message push: the endpoint stores and queues; the router runs from the queue.
	apps := appsOf(cfg.Apps)
	inboxStore, media := m.DB.Inbox, m.DB.Media
	m.Inbox, err = inbox.New(apps, inboxStore, media, m.Queue, m.Outbox, inbox.Config{
		Rules: inboxRules(cfg.Push.Rules), MaxAge: cfg.Push.MaxAge, Logger: m.Logger.With("component", "inbox"),
		Observer: m.Metrics, State: m.State})
	if err != nil {
		return &config.Error{Key: "push.rules", Msg: "invalid rule", Err: err}
	}

	// Analytics: events through the queue, datacube pulls.
	m.Analytics = m.newAnalytics(clients)

	// Housekeeping: retention purges and the code cache bound.
	m.Housekeeper = housekeeping.New(housekeeping.Config{Store: m.DB.Purge, State: m.State,
		Interval: cfg.Retention.Interval, RefreshTTL: cfg.Auth.RefreshTTL, Inbox: cfg.Retention.Inbox,
		Messages: cfg.Retention.Messages, CodesMax: cfg.WxaCode.CacheMax, Logger: m.Logger.With("component", "housekeeping")})

	// WeChat Pay: orders, notifications, reconciliation, business events.
	self := "http://" + loopbackAddr(m.listener.Addr().String())
	if m.Pay, err = m.openPay(self); err != nil {
		return err
	}

	// HTTP API.
	m.API = &api.Server{
		Apps:      apps,
		Users:     m.DB.Users,
		Sessions:  m.DB.Sessions,
		Inbox:     inboxStore,
		Portal:    m.Inbox,
		Messages:  messages,
		Outbox:    m.Outbox,
		Media:     media,
		Stats:     m.DB.Stats,
		AdminKeys: cfg.Admin.APIKeys,
		Tokens:    session.NewIssuer(signingKey, cfg.Auth.AccessTTL),
		Live:      &session.Live{State: m.State},
		Sealer:    sealer,
		WeChat:    clients,
		State:     m.State,
		Unavailable: func(err error) bool {
			return m.DB.IsUnavailable(err) || queue.IsUnavailable(err)
		},
		RefreshTTL: cfg.Auth.RefreshTTL,
		Analytics:  m.Analytics,
		Ready: []api.Check{
			{Name: "database", Func: m.DB.Ping},
			{Name: "state", Func: m.State.Ping},
			{Name: "queue", Func: m.Queue.Ping},
		},
		Logger:       m.Logger,
		Registry:     m.mainRegistry(),
		Metrics:      m.Metrics,
		NoRequestLog: !cfg.Log.Requests,
		Limiter:      newLimiter(m.State),
		Limits:       limitsOf(cfg),
		Proxies:      proxiesOf(cfg),
	}
	if m.Pay != nil {
		m.API.Pay = m.Pay
	}
	handler := m.handler()

	// Gateway: routes to the team's services, tried after every own route.
	own := m.API.Routes()
	if m.Sandbox != nil {
		own = append(own, sandboxRoutes...)
	}
	if m.Gateway, err = newGateway(cfg, own, m.API.WriteError, m.Metrics, m.Logger.With("component", "gateway")); err != nil {
		return err
	}
	m.API.Gateway = m.Gateway
	m.server = &http.Server{
		Handler:           handler,
		TLSConfig:         m.tls,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// warnExposedSandbox warns, on Stdout and in the log, when the embedded
// sandbox listens beyond the loopback interface (listen was set so): its
// control routes mint users and codes for anyone who can connect.
func (m *Main) warnExposedSandbox(addr string) {
	if loopbackOnly(addr) {
		return
	}
	msg := "WARNING: the embedded WeChat sandbox listens on " + addr + ": its control routes (/sandbox/…) are reachable from other machines and mint users and codes without authentication"
	if m.Stdout != nil {
		fmt.Fprintln(m.Stdout, msg)
	}
	m.Logger.Warn("the sandbox's control routes are reachable beyond loopback", slog.String("addr", addr))
}

// loopbackOnly reports whether addr (host:port) accepts only loopback
// connections.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handler mounts the API and, in sandbox mode, the emulator's WeChat and
// control routes on the same port.
func (m *Main) handler() http.Handler {
	h := m.API.Handler()
	if m.Sandbox == nil {
		return h
	}
	root := http.NewServeMux()
	root.Handle("/", h)
	for _, prefix := range sandboxRoutes {
		root.Handle(prefix, m.Sandbox)
	}
	return root
}

// sandboxRoutes are the paths the embedded sandbox serves in sandbox mode.
var sandboxRoutes = []string{"/sandbox/", "/cgi-bin/", "/sns/", "/wxa/", "/datacube/", "/v3/"}

// hostOf is the host[:port] of a URL, "" when it does not parse.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// shutdownGrace is how long requests in flight may run after a SIGTERM;
// deploy/k8s's terminationGracePeriodSeconds is longer.
const shutdownGrace = 20 * time.Second

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: in-flight requests
// get up to 20 s to finish. A background worker (outbox, inbox) that stops
// with an error stops the server too, and Run returns that error.
func (m *Main) Run(ctx context.Context) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workers, failed := m.startWorkers(workCtx)
	defer func() {
		stopWork() // after the HTTP server stopped taking work
		workers.Wait()
	}()
	go m.serveMetrics(workCtx)
	if m.Gateway != nil {
		workers.Go(func() { m.Gateway.Run(workCtx) })
	}
	errc := make(chan error, 1)
	go func() {
		if m.tls != nil {
			errc <- m.server.ServeTLS(m.listener, "", "")
			return
		}
		errc <- m.server.Serve(m.listener)
	}()
	m.Logger.Info("listening", slog.String("addr", m.Addr()))
	var workerErr error
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case workerErr = <-failed:
	case <-ctx.Done():
	}
	if err := m.shutdown(errc); err != nil {
		return err
	}
	return workerErr
}

// shutdown stops the HTTP server gracefully; errc is the result of Serve.
func (m *Main) shutdown(errc <-chan error) error {
	m.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := m.server.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close releases everything Open opened; it is safe to call more than once.
func (m *Main) Close() error {
	var errs []error
	if m.Sandbox != nil {
		m.Sandbox.Close()
	}
	if m.listener != nil && m.server == nil {
		errs = append(errs, m.listener.Close())
	}
	if m.metricsListener != nil && m.metricsServer == nil {
		errs = append(errs, m.metricsListener.Close())
	}
	if m.Queue != nil {
		errs = append(errs, m.Queue.Close())
		m.Queue = nil
	}
	if m.State != nil {
		errs = append(errs, m.State.Close())
		m.State = nil
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
		m.DB = nil
	}
	return errors.Join(errs...)
}

// openState opens the state store named by redis.url: in-process when
// empty, else Redis (one server, Sentinel or Cluster, by the scheme). A URL
// that does not parse or connect is a *config.Error naming redis.url,
// without the password.
func openState(ctx context.Context, cfg config.Config) (miniback.StateStore, error) {
	u := cfg.Redis.URL
	switch scheme, _, _ := strings.Cut(u, "://"); scheme {
	case "":
		return memory.New(), nil
	case "redis", "rediss", "redis+sentinel", "redis+cluster":
		s, err := redis.Open(ctx, u, redis.Options{Prefix: cfg.Redis.Prefix})
		switch {
		case errors.Is(err, redis.ErrBadURL):
			return nil, &config.Error{Key: "redis.url", Msg: "is malformed", Err: err}
		case err != nil:
			return nil, &config.Error{Key: "redis.url", Msg: "cannot connect", Err: err}
		}
		return s, nil
	default:
		return nil, &config.Error{Key: "redis.url", Msg: "scheme must be redis, rediss, redis+sentinel or redis+cluster"}
	}
}

// openKeys loads the access-token signing key and the key that seals
// WeChat session keys from the files auth.signing_key_file and
// auth.seal_key_file name, or, when they are empty, from data_dir, where
// they are created on first start.
func openKeys(cfg config.Config) (*session.SigningKey, *session.Sealer, error) {
	var key *session.SigningKey
	var err error
	if cfg.Auth.SigningKeyFile != "" {
		if key, err = session.LoadSigningKey(cfg.Auth.SigningKeyFile); err != nil {
			return nil, nil, &config.Error{Key: "auth.signing_key_file", Msg: "must name a file holding an Ed25519 private key in PKCS#8 PEM", Err: err}
		}
	} else if key, err = session.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "signing_key.pem")); err != nil {
		return nil, nil, err
	}
	var sealKey []byte
	if cfg.Auth.SealKeyFile != "" {
		if sealKey, err = session.LoadSealKey(cfg.Auth.SealKeyFile); err != nil {
			return nil, nil, &config.Error{Key: "auth.seal_key_file", Msg: "must name a file holding 32 bytes in base64 or hex", Err: err}
		}
	} else if sealKey, err = session.LoadOrCreateSealKey(filepath.Join(cfg.DataDir, "seal.key")); err != nil {
		return nil, nil, err
	}
	sealer, err := session.NewSealer(sealKey)
	return key, sealer, err
}

func newWeChatClients(cfg config.Config, apiBase string, store wechat.TokenStore, obs wechat.Observer, log *slog.Logger, transport http.RoundTripper) map[string]*wechat.Client {
	hc := &http.Client{Transport: transport}
	mode := wechat.TokenModeStable
	if cfg.WeChat.TokenMode == "classic" {
		mode = wechat.TokenModeClassic
	}
	clients := map[string]*wechat.Client{}
	for _, a := range cfg.Apps {
		clients[a.AppID] = wechat.NewClient(a.AppID, a.Secret,
			wechat.WithBaseURL(apiBase), wechat.WithHTTPClient(hc), wechat.WithTokenStore(store),
			wechat.WithTokenMode(mode), wechat.WithTimeout(cfg.WeChat.Timeout), wechat.WithObserver(obs),
			wechat.WithLogger(log.With("component", "wechat", "appid", a.AppID)))
	}
	return clients
}

// inboxRules converts the configured push rules for the router.
func inboxRules(list []config.PushRule) []inbox.Rule {
	out := make([]inbox.Rule, len(list))
	for i, r := range list {
		out[i] = inbox.Rule{AppID: r.AppID, MsgType: r.MsgType, Event: r.Event, Content: r.Content,
			ContentRegex: r.ContentRegex, Handler: r.Handler, Continue: r.Continue,
			ReplyText: r.ReplyText, ReplyMediaID: r.ReplyMediaID,
			WebhookURL: r.WebhookURL, WebhookSecret: r.WebhookSecret}
	}
	return out
}

func appsOf(list []config.App) miniback.Apps {
	apps := miniback.Apps{}
	for _, a := range list {
		apps[a.AppID] = &miniback.App{AppID: a.AppID, Secret: a.Secret, Token: a.Token, AESKey: a.AESKey,
			MsgFormat: a.MsgFormat, PushURL: a.PushURL, PushMode: a.PushMode, LegacyDecrypt: a.LegacyDecrypt}
	}
	return apps
}

// sandboxApps gives the sandbox the configured apps; pushes go to this
// server's portal unless push_url says otherwise.
func sandboxApps(list []config.App, self string) []sandbox.App {
	out := make([]sandbox.App, 0, len(list))
	for _, a := range list {
		push := a.PushURL
		if push == "" {
			push = self + "/wx/portal/" + url.PathEscape(a.AppID)
		}
		out = append(out, sandbox.App{AppID: a.AppID, Secret: a.Secret, Token: a.Token, AESKey: a.AESKey, MsgFormat: a.MsgFormat, PushURL: push, PushMode: a.PushMode,
			Pay: sandboxPayApp(a.Pay)})
	}
	return out
}
