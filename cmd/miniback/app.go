package main

import (
	"cmp"
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
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/api"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/gateway"
	"github.com/miniback/miniback/internal/outbox"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/internal/session"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechat"
)

// Main is the whole process: every component opened in readable sections,
// chosen by plain switches on URL schemes. Tests run the same Main on :0.
type Main struct {
	Config config.Config
	Logger *slog.Logger
	Stdout io.Writer // the sandbox-mode banner goes here

	DB      *sqlite.DB
	State   miniback.StateStore
	Queue   *queue.Queue
	Outbox  *outbox.Outbox
	push    *pushParts
	Sandbox *sandbox.Server // set when wechat.api_base is "sandbox"
	API     *api.Server

	// The edge: gateway routes (nil without any), WeChat's circuit
	// breakers, and the rate limiter's store.
	Gateway        *gateway.Gateway
	WeChatBreakers *gateway.HostBreakers
	closeLimiter   func() error

	listener net.Listener
	server   *http.Server
	tls      *tls.Config

	// limiterURL, set by tests only, puts the rate limiter in this Redis
	// while redis.url is not yet accepted by the state store; limiterPrefix
	// keeps each test's counters apart.
	limiterURL, limiterPrefix string

	tuneOutbox func(*outbox.Config) // tests shorten the retry delays
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
	if m.State, err = openState(cfg); err != nil {
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
		m.Sandbox = sandbox.New(sandbox.Config{Apps: sandboxApps(cfg.Apps, apiBase), Logger: m.Logger.With("component", "sandbox")})
	}
	if m.WeChatBreakers, err = weChatTransport(cfg, m.Logger); err != nil {
		return err
	}
	clients := newWeChatClients(cfg, apiBase, m.State, m.Logger, m.WeChatBreakers)

	// Rate limits: in Redis when redis.url is set, else in this process.
	limiterURL := cfg.Redis.URL
	if m.limiterURL != "" {
		limiterURL = m.limiterURL
	}
	limiter, closeLimiter, err := openLimiter(limiterURL, cmp.Or(m.limiterPrefix, "miniback:"))
	if err != nil {
		return err
	}
	m.closeLimiter = closeLimiter

	// Queue and outbound messages.
	if m.Queue, err = queue.Open(ctx, queue.Config{URL: cfg.Queue.URL, AckWait: cfg.Queue.AckWait, DataDir: cfg.DataDir, Logger: m.Logger.With("component", "queue")}); err != nil {
		return err
	}
	messages := sqlite.NewMessageStore(m.DB)
	outboxCfg := m.outboxConfig()
	wechatHost := hostOf(apiBase)
	outboxCfg.Wait = func() time.Duration { return m.WeChatBreakers.Wait(wechatHost) }
	m.Outbox = outbox.New(messages, m.Queue, outbox.NewWeChatSender(clients), outboxCfg)

	// Message push: the endpoint stores and queues; the router runs from the queue.
	apps := appsOf(cfg.Apps)
	inbox, media := sqlite.NewInboxStore(m.DB), sqlite.NewMediaStore(m.DB)
	if m.push, err = newPush(cfg, apps, inbox, media, m.Queue, m.Outbox, m.Logger); err != nil {
		return err
	}

	// HTTP API.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.API = &api.Server{
		Apps:       apps,
		Users:      sqlite.NewUserStore(m.DB),
		Sessions:   sqlite.NewSessionStore(m.DB),
		Inbox:      inbox,
		Portal:     m.push.portal,
		Messages:   messages,
		Outbox:     m.Outbox,
		Media:      media,
		AdminKeys:  cfg.Admin.APIKeys,
		Tokens:     session.NewIssuer(signingKey, cfg.Auth.AccessTTL),
		Sealer:     sealer,
		WeChat:     clients,
		RefreshTTL: cfg.Auth.RefreshTTL,
		Ready: []api.Check{
			{Name: "database", Func: m.DB.Ping},
			{Name: "state", Func: m.State.Ping},
			{Name: "queue", Func: m.Queue.Ping},
		},
		Logger:   m.Logger,
		Registry: reg,
		Limiter:  limiter,
		Limits:   limitsOf(cfg),
		Proxies:  proxiesOf(cfg),
	}
	handler := m.handler()

	// Gateway: routes to the team's services, tried after every own route.
	own := m.API.Patterns()
	if m.Sandbox != nil {
		own = append(own, sandboxPrefixes...)
	}
	if m.Gateway, err = newGateway(cfg, own, m.API.WriteError, m.Logger.With("component", "gateway")); err != nil {
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

// handler mounts the API and, in sandbox mode, the emulator's WeChat and
// control routes on the same port.
func (m *Main) handler() http.Handler {
	h := m.API.Handler()
	if m.Sandbox == nil {
		return h
	}
	root := http.NewServeMux()
	root.Handle("/", h)
	for _, prefix := range sandboxPrefixes {
		root.Handle(prefix, m.Sandbox)
	}
	return root
}

// sandboxPrefixes are the paths the embedded sandbox serves in sandbox mode.
var sandboxPrefixes = []string{"/sandbox/", "/cgi-bin/", "/sns/", "/wxa/"}

// hostOf is the host[:port] of a URL, "" when it does not parse.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: in-flight requests
// get up to 20 s to finish.
func (m *Main) Run(ctx context.Context) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	workers, err := m.startWorkers(workCtx)
	if err != nil {
		stopWork()
		return err
	}
	defer func() {
		stopWork() // after the HTTP server stopped taking work
		workers.Wait()
	}()
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
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	m.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
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
	if m.Queue != nil {
		errs = append(errs, m.Queue.Close())
		m.Queue = nil
	}
	if m.closeLimiter != nil {
		errs = append(errs, m.closeLimiter())
		m.closeLimiter = nil
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

// openDatabase opens the SQL engine named by database.url's scheme.
func openDatabase(ctx context.Context, cfg config.Config) (*sqlite.DB, error) {
	u := cfg.Database.URL
	switch scheme, _, _ := strings.Cut(u, "://"); scheme {
	case "sqlite":
		db := sqlite.NewDB(strings.TrimPrefix(u, "sqlite://"))
		if err := db.Open(ctx); err != nil {
			return nil, err
		}
		return db, nil
	default:
		return nil, &config.Error{Key: "database.url", Msg: scheme + " is not supported by this build yet; use sqlite://"}
	}
}

// openState opens the state store named by redis.url.
func openState(cfg config.Config) (miniback.StateStore, error) {
	if cfg.Redis.URL == "" {
		return memory.New(), nil
	}
	return nil, &config.Error{Key: "redis.url", Msg: "redis is not supported by this build yet; leave it empty"}
}

// openKeys loads (or creates in data_dir) the access-token signing key and
// the key that seals WeChat session keys.
func openKeys(cfg config.Config) (*session.SigningKey, *session.Sealer, error) {
	var key *session.SigningKey
	var err error
	if cfg.Auth.SigningKeyFile != "" {
		key, err = session.ParseSigningKey([]byte(cfg.Auth.SigningKeyFile))
		if err != nil {
			return nil, nil, &config.Error{Key: "auth.signing_key_file", Msg: "must be an Ed25519 private key in PKCS#8 PEM", Err: err}
		}
	} else if key, err = session.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "signing_key.pem")); err != nil {
		return nil, nil, err
	}
	var sealKey []byte
	if cfg.Auth.SealKeyFile != "" {
		if sealKey, err = session.ParseSealKey(cfg.Auth.SealKeyFile); err != nil {
			return nil, nil, &config.Error{Key: "auth.seal_key_file", Msg: "must hold 32 bytes in base64 or hex", Err: err}
		}
	} else if sealKey, err = session.LoadOrCreateSealKey(filepath.Join(cfg.DataDir, "seal.key")); err != nil {
		return nil, nil, err
	}
	sealer, err := session.NewSealer(sealKey)
	return key, sealer, err
}

func newWeChatClients(cfg config.Config, apiBase string, store wechat.TokenStore, log *slog.Logger, transport http.RoundTripper) map[string]*wechat.Client {
	hc := &http.Client{Transport: transport}
	mode := wechat.TokenModeStable
	if cfg.WeChat.TokenMode == "classic" {
		mode = wechat.TokenModeClassic
	}
	clients := map[string]*wechat.Client{}
	for _, a := range cfg.Apps {
		clients[a.AppID] = wechat.NewClient(a.AppID, a.Secret,
			wechat.WithBaseURL(apiBase), wechat.WithHTTPClient(hc), wechat.WithTokenStore(store),
			wechat.WithTokenMode(mode), wechat.WithTimeout(cfg.WeChat.Timeout),
			wechat.WithLogger(log.With("component", "wechat", "appid", a.AppID)))
	}
	return clients
}

func appsOf(list []config.App) miniback.Apps {
	apps := miniback.Apps{}
	for _, a := range list {
		apps[a.AppID] = &miniback.App{AppID: a.AppID, Secret: a.Secret, Token: a.Token, AESKey: a.AESKey, MsgFormat: a.MsgFormat, PushURL: a.PushURL}
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
		out = append(out, sandbox.App{AppID: a.AppID, Secret: a.Secret, Token: a.Token, AESKey: a.AESKey, MsgFormat: a.MsgFormat, PushURL: push})
	}
	return out
}
