// Package config holds miniback's configuration (SPEC §2): a plain struct with
// defaults, loaded once from a YAML file and MINIBACK_* environment variables,
// and validated at start with errors that name the offending key.
package config

import (
	"log/slog"
	"time"
)

// Config is the whole configuration. Field tags give the YAML key; the
// environment variable of a key is MINIBACK_ plus the upper-cased path
// joined with "_".
type Config struct {
	Listen   string   `yaml:"listen"`
	DataDir  string   `yaml:"data_dir"`
	Database Database `yaml:"database"`
	Redis    Redis    `yaml:"redis"`
	Queue    Queue    `yaml:"queue"`
	WeChat   WeChat   `yaml:"wechat"`
	Push     Push     `yaml:"push"`
	Auth     Auth     `yaml:"auth"`
	Admin    Admin    `yaml:"admin"`
	Apps     []App    `yaml:"apps"`
	Server   Server   `yaml:"server"`
	Gateway  Gateway  `yaml:"gateway"`
	Limits   Limits   `yaml:"limits"`
	Breaker  Breaker  `yaml:"breaker"`
	TLS      TLS      `yaml:"tls"`
	// SandboxOpts is the sandbox: section.
	SandboxOpts SandboxOptions `yaml:"sandbox"`
	Metrics     Metrics        `yaml:"metrics"`
	Log         Log            `yaml:"log"`

	Analytics Analytics `yaml:"analytics"`
	Retention Retention `yaml:"retention"`
	WxaCode   WxaCode   `yaml:"wxacode"`

	// Sandbox reports that no app was configured, so serve runs the
	// embedded sandbox with the demo app. It is derived, not loaded.
	Sandbox bool `yaml:"-"`
	// ListenSet reports that listen was given (file or environment); when
	// it was not, the embedded sandbox binds SandboxListen. Derived.
	ListenSet bool `yaml:"-"`
}

// SandboxListen is the default listen address when the embedded sandbox
// runs: its control routes mint users and codes without authentication,
// so they stay on the loopback interface unless listen says otherwise.
const SandboxListen = "127.0.0.1:8080"

// Database selects the SQL engine by the URL scheme.
// MaxOpenConns 0 is the engine's default (one writer for SQLite, 4 ×
// GOMAXPROCS for MySQL and PostgreSQL); MaxIdleConns 0 is MaxOpenConns.
type Database struct {
	URL             string        `yaml:"url"`
	AutoMigrate     bool          `yaml:"auto_migrate"`
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
}

// Redis selects the state store: "" is in-process.
// Prefix starts every key, so several deployments can share one Redis.
type Redis struct {
	URL    string `yaml:"url"`
	Prefix string `yaml:"prefix"`
}

// Queue selects the queue: "" is embedded NATS JetStream under data_dir.
// AckWait is how long a taken message may go unanswered (the process died)
// before another consumer gets it.
// Prefix names the JetStream stream (upper-cased) and starts every
// subject; Replicas is how many members of a NATS cluster hold it.
type Queue struct {
	URL      string        `yaml:"url"`
	AckWait  time.Duration `yaml:"ack_wait"`
	Prefix   string        `yaml:"prefix"`
	Replicas int           `yaml:"replicas"`
}

// WeChat configures the WeChat API client.
type WeChat struct {
	APIBase   string        `yaml:"api_base"`
	Timeout   time.Duration `yaml:"timeout"`
	TokenMode string        `yaml:"token_mode"`
	// CAFile names a PEM file of extra roots trusted for WeChat's
	// certificate (proxies that re-sign TLS); the system roots stay trusted.
	CAFile string `yaml:"ca_file"`
	// PayAPIBase is WeChat Pay's host; "sandbox" is the embedded sandbox
	// (the default whenever api_base is "sandbox").
	PayAPIBase string `yaml:"pay_api_base"`
}

// SandboxOptions tune the embedded sandbox.
type SandboxOptions struct {
	// PayTimeScale multiplies WeChat Pay's notification retry delays
	// (15 s, 15 s, 30 s, 3 min, …); default 1.
	PayTimeScale float64 `yaml:"pay_time_scale"`
}

// Push configures the message-push endpoint and its router. With no
// rules every push is logged.
type Push struct {
	MaxAge time.Duration `yaml:"max_age"`
	Rules  []PushRule    `yaml:"rules"`
}

// PushRule is one rule of the push router (SPEC §2): every non-empty match
// field must match; rules are tried in order and the first match stops the
// search unless Continue is set. Handler names a built-in (log,
// auto_reply, webhook). The router checks the rules when serve starts and
// names the failing one. WebhookSecret is a secret.
type PushRule struct {
	AppID        string `yaml:"appid"`
	MsgType      string `yaml:"msg_type"`
	Event        string `yaml:"event"`
	Content      string `yaml:"content"`       // exact match
	ContentRegex string `yaml:"content_regex"` // RE2, unanchored
	Handler      string `yaml:"handler"`
	Continue     bool   `yaml:"continue"`
	// auto_reply: exactly one of them.
	ReplyText    string `yaml:"reply_text"`
	ReplyMediaID string `yaml:"reply_media_id"`
	// webhook: both required.
	WebhookURL    string `yaml:"webhook_url"`
	WebhookSecret string `yaml:"webhook_secret"`
}

// LogValue implements slog.LogValuer: the webhook secret is never logged.
func (r PushRule) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", r.AppID), slog.String("msg_type", r.MsgType),
		slog.String("event", r.Event), slog.String("handler", r.Handler))
}

// Auth configures sessions and tokens.
type Auth struct {
	AccessTTL  time.Duration `yaml:"access_ttl"`
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// SigningKeyFile names a file with the Ed25519 private key (PKCS#8 PEM)
	// that signs access tokens; generated into data_dir when empty.
	SigningKeyFile string `yaml:"signing_key_file"`
	// SealKeyFile names a file with the 32-byte AES key (base64 or hex) that
	// seals WeChat session keys at rest; generated into data_dir when empty.
	SealKeyFile string `yaml:"seal_key_file"`
}

// Admin configures the admin API.
type Admin struct {
	APIKeys []string `yaml:"api_keys"`
}

// Metrics configures /metrics. With Listen set, /metrics is served only on
// that address (e.g. 127.0.0.1:9090) and the main listener answers 404.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// Log configures the process log: Level is debug, info, warn or error;
// Format is json or text; Requests false stops the one line per request
// (the metrics still count them).
type Log struct {
	Level    string `yaml:"level"`
	Format   string `yaml:"format"`
	Requests bool   `yaml:"requests"`
}

// App is one mini program. Secret, Token and AESKey are secrets.
type App struct {
	AppID     string `yaml:"appid" json:"appid"`
	Secret    string `yaml:"secret" json:"secret"`
	Token     string `yaml:"token" json:"token"`
	AESKey    string `yaml:"aes_key" json:"aes_key"`
	MsgFormat string `yaml:"msg_format" json:"msg_format"`
	PushURL   string `yaml:"push_url" json:"push_url"`
	// PushMode is the message-push mode set in the WeChat console: plain,
	// compat or safe; pushes in a weaker mode are refused. Default safe
	// when AESKey is set, else plain.
	PushMode string `yaml:"push_mode" json:"push_mode"`
	// LegacyDecrypt turns on the legacy encrypted_data routes (userinfo,
	// and the phone number from encrypted_data). Default off.
	LegacyDecrypt bool `yaml:"legacy_decrypt" json:"legacy_decrypt"`
	// Pay is the app's WeChat Pay merchant (SPEC §13).
	Pay Pay `yaml:"pay" json:"pay"`
}

// Pay is an app's WeChat Pay merchant (SPEC §13). It is configured when
// MchID is set. PrivateKey, APIv3Key and WebhookSecret are secrets, best
// given as private_key_file, apiv3_key_file and webhook_secret_file;
// PublicKey is the PEM of the WeChat Pay public key (public_key_file).
type Pay struct {
	MchID         string `yaml:"mchid" json:"mchid"`
	SerialNo      string `yaml:"serial_no" json:"serial_no"`
	PrivateKey    string `yaml:"private_key" json:"private_key"`
	APIv3Key      string `yaml:"apiv3_key" json:"apiv3_key"`
	PublicKeyID   string `yaml:"public_key_id" json:"public_key_id"`
	PublicKey     string `yaml:"public_key" json:"public_key"`
	NotifyURL     string `yaml:"notify_url" json:"notify_url"`
	WebhookURL    string `yaml:"webhook_url" json:"webhook_url"`
	WebhookSecret string `yaml:"webhook_secret" json:"webhook_secret"`
}

// Configured reports whether the app has WeChat Pay.
func (p Pay) Configured() bool { return p.MchID != "" }

// APIBaseSandbox is the wechat.api_base value that starts the embedded sandbox.
const APIBaseSandbox = "sandbox"

// Demo app of sandbox mode. These values are public on purpose: they only
// ever talk to the embedded sandbox.
const (
	DemoAppID  = "wx8d0e5a6b4c3f2a10"
	demoSecret = "sandbox-demo-secret-0000000000000"
	demoToken  = "sandboxdemotoken"
	demoAESKey = "c2FuZGJveGRlbW9hZXNrZXkwMTIzNDU2Nzg5YWJjZGU"
	// DemoMchID is the demo app's merchant in the sandbox; its API key is
	// generated into data_dir.
	DemoMchID    = "1900000109"
	demoSerial   = "5A0DEMO0000000000000000000000000000000"
	demoAPIv3Key = "sandboxdemoapiv3key0123456789abc"
	// demoWebhookSecret signs the demo app's business events, which go to
	// the sandbox's own receiver (GET /sandbox/pay/webhook shows them).
	demoWebhookSecret = "sandbox-demo-webhook-secret"
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:   ":8080",
		DataDir:  "./data",
		Redis:    Redis{Prefix: "miniback:"},
		Database: Database{URL: "", AutoMigrate: true, ConnMaxLifetime: 30 * time.Minute},
		WeChat: WeChat{
			APIBase:   "https://api.weixin.qq.com",
			Timeout:   5 * time.Second,
			TokenMode: "stable",

			PayAPIBase: "https://api.mch.weixin.qq.com",
		},
		Server: Server{TrustedProxies: []string{}},
		Breaker: Breaker{Failures: 5, Ratio: 0.5, MinCalls: 20, Window: 10 * time.Second,
			OpenFor: 30 * time.Second, Probes: 3},
		TLS:       TLS{MinVersion: "1.2"},
		Queue:     Queue{AckWait: 30 * time.Second, Prefix: "miniback", Replicas: 1},
		Push:      Push{MaxAge: 5 * time.Minute},
		Auth:      Auth{AccessTTL: 15 * time.Minute, RefreshTTL: 720 * time.Hour},
		Admin:     Admin{APIKeys: []string{}},
		Log:       Log{Level: "info", Format: "json", Requests: true},
		Analytics: Analytics{MaxEventsPerUserPerDay: 10000, Timezone: "Asia/Shanghai", DatacubeAt: "06:00"},
		Retention: Retention{Events: 90 * 24 * time.Hour, Inbox: 30 * 24 * time.Hour, Messages: 30 * 24 * time.Hour, Interval: time.Hour},
		WxaCode:   WxaCode{CacheMax: 10_000},
	}
}

// LogValue implements slog.LogValuer: the configuration as logged once at
// start, with every secret masked.
func (c Config) LogValue() slog.Value {
	apps := make([]string, len(c.Apps))
	for i, a := range c.Apps {
		apps[i] = a.AppID
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("data_dir", c.DataDir),
		slog.String("database", maskURL(c.Database.URL)),
		slog.String("redis", maskURL(c.Redis.URL)),
		slog.String("queue", maskURL(c.Queue.URL)),
		slog.String("wechat_api_base", c.WeChat.APIBase),
		slog.String("token_mode", c.WeChat.TokenMode),
		slog.Int("admin_api_keys", len(c.Admin.APIKeys)),
		slog.Int("gateway_routes", len(c.Gateway.Routes)),
		slog.Bool("tls", c.TLS.CertFile != ""),
		slog.String("metrics_listen", c.Metrics.Listen),
		slog.String("log_level", c.Log.Level),
		slog.Any("apps", apps),
		slog.Bool("sandbox", c.Sandbox),
	)
}

// WxaCode bounds the cache of mini-program codes: beyond CacheMax codes
// the least recently used go first.
type WxaCode struct {
	CacheMax int `yaml:"cache_max"`
}
