// Package config holds miniback's configuration (SPEC §2): a plain struct with
// defaults, loaded once from a YAML file and MINIBACK_* environment variables,
// and validated at start with errors that name the offending key.
package config

import (
	"log/slog"
	"time"

	"github.com/miniback/miniback/push"
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

	// Sandbox reports that no app was configured, so serve runs the
	// embedded sandbox with the demo app. It is derived, not loaded.
	Sandbox bool `yaml:"-"`
}

// Database selects the SQL engine by the URL scheme.
type Database struct {
	URL         string `yaml:"url"`
	AutoMigrate bool   `yaml:"auto_migrate"`
}

// Redis selects the state store: "" is in-process.
type Redis struct {
	URL string `yaml:"url"`
}

// Queue selects the queue: "" is embedded NATS JetStream under data_dir.
// AckWait is how long a taken message may go unanswered (the process died)
// before another consumer gets it.
type Queue struct {
	URL     string        `yaml:"url"`
	AckWait time.Duration `yaml:"ack_wait"`
}

// WeChat configures the WeChat API client.
type WeChat struct {
	APIBase   string        `yaml:"api_base"`
	Timeout   time.Duration `yaml:"timeout"`
	TokenMode string        `yaml:"token_mode"`
	// CAFile names a PEM file of extra roots trusted for WeChat's
	// certificate (proxies that re-sign TLS); the system roots stay trusted.
	CAFile string `yaml:"ca_file"`
}

// Push configures the message-push endpoint and its router. With no
// rules every push is logged.
type Push struct {
	MaxAge time.Duration `yaml:"max_age"`
	Rules  []push.Rule   `yaml:"rules"`
}

// Auth configures sessions and tokens.
type Auth struct {
	AccessTTL      time.Duration `yaml:"access_ttl"`
	RefreshTTL     time.Duration `yaml:"refresh_ttl"`
	SigningKeyFile string        `yaml:"signing_key_file"`
	// SealKeyFile names a file with the 32-byte AES key (base64 or hex) that
	// seals WeChat session keys at rest; generated into data_dir when empty.
	SealKeyFile string `yaml:"seal_key_file"`
}

// Admin configures the admin API.
type Admin struct {
	APIKeys []string `yaml:"api_keys"`
}

// App is one mini program. Secret, Token and AESKey are secrets.
type App struct {
	AppID     string `yaml:"appid" json:"appid"`
	Secret    string `yaml:"secret" json:"secret"`
	Token     string `yaml:"token" json:"token"`
	AESKey    string `yaml:"aes_key" json:"aes_key"`
	MsgFormat string `yaml:"msg_format" json:"msg_format"`
	PushURL   string `yaml:"push_url" json:"push_url"`
}

// APIBaseSandbox is the wechat.api_base value that starts the embedded sandbox.
const APIBaseSandbox = "sandbox"

// Demo app of sandbox mode. These values are public on purpose: they only
// ever talk to the embedded sandbox.
const (
	DemoAppID  = "wx8d0e5a6b4c3f2a10"
	demoSecret = "sandbox-demo-secret-0000000000000"
	demoToken  = "sandboxdemotoken"
	demoAESKey = "c2FuZGJveGRlbW9hZXNrZXkwMTIzNDU2Nzg5YWJjZGU"
)

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:   ":8080",
		DataDir:  "./data",
		Database: Database{URL: "", AutoMigrate: true},
		WeChat: WeChat{
			APIBase:   "https://api.weixin.qq.com",
			Timeout:   5 * time.Second,
			TokenMode: "stable",
		},
		Queue:  Queue{AckWait: 30 * time.Second},
		Push:   Push{MaxAge: 5 * time.Minute},
		Auth:   Auth{AccessTTL: 15 * time.Minute, RefreshTTL: 720 * time.Hour},
		Admin:  Admin{APIKeys: []string{}},
		Server: Server{TrustedProxies: []string{}},
		Breaker: Breaker{Failures: 5, Ratio: 0.5, MinCalls: 20, Window: 10 * time.Second,
			OpenFor: 30 * time.Second, Probes: 3},
		TLS: TLS{MinVersion: "1.2"},
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
		slog.Any("apps", apps),
		slog.Bool("sandbox", c.Sandbox),
	)
}
