package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechatpay"
)

// fill derives the values that depend on others.
func (c *Config) fill() {
	if c.Database.URL == "" {
		p := filepath.ToSlash(filepath.Join(c.DataDir, "miniback.db"))
		if !filepath.IsAbs(p) {
			p = "./" + p
		}
		c.Database.URL = "sqlite://" + p
	}
	if c.Sandbox {
		c.WeChat.APIBase = APIBaseSandbox
		c.Apps = []App{DemoApp()}
	}
	if c.WeChat.APIBase == APIBaseSandbox && !c.ListenSet {
		c.Listen = SandboxListen
	}
	c.fillRoutes()
	if c.WeChat.APIBase == APIBaseSandbox && c.WeChat.PayAPIBase == Default().WeChat.PayAPIBase {
		c.WeChat.PayAPIBase = APIBaseSandbox
	}
	for i := range c.Apps {
		a := &c.Apps[i]
		a.MsgFormat = strings.ToUpper(a.MsgFormat)
		if a.MsgFormat == "" {
			a.MsgFormat = "XML" // the WeChat console's default
		}
		a.PushMode = strings.ToLower(a.PushMode)
		if a.PushMode == "" {
			a.PushMode = miniback.PushModePlain
			if a.AESKey != "" {
				a.PushMode = miniback.PushModeSafe
			}
		}
	}
}

// DemoApp is the app of sandbox mode.
func DemoApp() App {
	return App{AppID: DemoAppID, Secret: demoSecret, Token: demoToken, AESKey: demoAESKey, MsgFormat: "JSON", PushMode: miniback.PushModeSafe,
		Pay: Pay{MchID: DemoMchID, SerialNo: demoSerial, APIv3Key: demoAPIv3Key, WebhookSecret: demoWebhookSecret}}
}

var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks every value and returns an *Error naming the first bad key.
func (c *Config) Validate() error {
	checks := []func() error{c.validateServer, c.validateOps, c.validateBackends, c.validateWeChat, c.validateAuth, c.validateApps, c.validateAnalytics, c.validateEdge}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateServer() error {
	if c.Listen == "" {
		return &Error{Key: "listen", Msg: "must not be empty"}
	}
	if c.DataDir == "" {
		return &Error{Key: "data_dir", Msg: "must not be empty"}
	}
	if c.Push.MaxAge <= 0 {
		return &Error{Key: "push.max_age", Msg: "must be positive"}
	}
	for i, k := range c.Admin.APIKeys {
		if len(k) < 16 {
			return &Error{Key: fmt.Sprintf("admin.api_keys[%d]", i), Msg: "must be at least 16 characters"}
		}
	}
	return nil
}

func (c *Config) validateOps() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Key: "log.level", Msg: "must be debug, info, warn or error"}
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		return &Error{Key: "log.format", Msg: "must be json or text"}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return &Error{Key: "metrics.listen", Msg: "must be host:port, such as 127.0.0.1:9090"}
		}
		if c.Metrics.Listen == c.Listen {
			return &Error{Key: "metrics.listen", Msg: "must differ from listen"}
		}
	}
	return nil
}

func (c *Config) validateBackends() error {
	if err := checkScheme("database.url", c.Database.URL, "sqlite", "mysql", "postgres", "postgresql"); err != nil {
		return err
	}
	if c.Redis.URL != "" {
		if err := checkScheme("redis.url", c.Redis.URL, "redis", "rediss", "redis+sentinel", "redis+cluster"); err != nil {
			return err
		}
	}
	if err := c.validateHousekeeping(); err != nil {
		return err
	}
	if strings.ContainsAny(c.Redis.Prefix, "{} ") {
		return &Error{Key: "redis.prefix", Msg: "must not hold braces or spaces (braces would make it a cluster hash tag)"}
	}
	if c.Database.MaxOpenConns < 0 {
		return &Error{Key: "database.max_open_conns", Msg: "must not be negative"}
	}
	if c.Database.MaxIdleConns < 0 {
		return &Error{Key: "database.max_idle_conns", Msg: "must not be negative"}
	}
	if c.Database.ConnMaxLifetime < 0 {
		return &Error{Key: "database.conn_max_lifetime", Msg: "must not be negative"}
	}
	if c.Queue.AckWait < time.Second {
		return &Error{Key: "queue.ack_wait", Msg: "must be at least 1s"}
	}
	if c.Queue.URL != "" {
		for _, u := range strings.Split(c.Queue.URL, ",") {
			if err := checkScheme("queue.url", strings.TrimSpace(u), "nats", "tls"); err != nil {
				return err
			}
		}
	}
	return c.validateQueueNames()
}

var queuePrefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func (c *Config) validateQueueNames() error {
	if !queuePrefixPattern.MatchString(c.Queue.Prefix) {
		return &Error{Key: "queue.prefix", Msg: "must be 1-32 letters, digits, '-' or '_'"}
	}
	switch r := c.Queue.Replicas; {
	case r != 1 && r != 3 && r != 5:
		return &Error{Key: "queue.replicas", Msg: "must be 1, 3 or 5"}
	case r > 1 && c.Queue.URL == "":
		return &Error{Key: "queue.replicas", Msg: "must be 1 with the embedded queue (queue.url empty)"}
	}
	return nil
}

func checkScheme(key, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &Error{Key: key, Msg: "is not a URL"}
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return &Error{Key: key, Msg: "scheme must be one of " + strings.Join(schemes, ", ")}
}

func (c *Config) validateWeChat() error {
	if c.WeChat.APIBase != APIBaseSandbox {
		u, err := url.Parse(c.WeChat.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: "wechat.api_base", Msg: `must be an http(s) URL or "sandbox"`}
		}
	}
	if c.WeChat.PayAPIBase != APIBaseSandbox {
		u, err := url.Parse(c.WeChat.PayAPIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: "wechat.pay_api_base", Msg: `must be an http(s) URL or "sandbox"`}
		}
	}
	if c.WeChat.PayAPIBase == APIBaseSandbox && c.WeChat.APIBase != APIBaseSandbox {
		return &Error{Key: "wechat.pay_api_base", Msg: `may be "sandbox" only when wechat.api_base is "sandbox"`}
	}
	if c.SandboxOpts.PayTimeScale < 0 {
		return &Error{Key: "sandbox.pay_time_scale", Msg: "must not be negative"}
	}
	if c.WeChat.Timeout <= 0 {
		return &Error{Key: "wechat.timeout", Msg: "must be positive"}
	}
	if c.WeChat.TokenMode != "stable" && c.WeChat.TokenMode != "classic" {
		return &Error{Key: "wechat.token_mode", Msg: "must be stable or classic"}
	}
	return nil
}

func (c *Config) validateAuth() error {
	if c.Auth.AccessTTL < 10e9 {
		return &Error{Key: "auth.access_ttl", Msg: "must be at least 10s"}
	}
	if c.Auth.RefreshTTL <= c.Auth.AccessTTL {
		return &Error{Key: "auth.refresh_ttl", Msg: "must be longer than auth.access_ttl"}
	}
	return nil
}

func (c *Config) validateApps() error {
	if len(c.Apps) == 0 {
		return &Error{Key: "apps", Msg: "at least one app is required (or run with no configuration for sandbox mode)"}
	}
	seen := map[string]bool{}
	for i, a := range c.Apps {
		key := fmt.Sprintf("apps[%d]", i)
		switch {
		case !appIDPattern.MatchString(a.AppID):
			return &Error{Key: key + ".appid", Msg: "must be 1-64 letters, digits, '-' or '_'"}
		case seen[a.AppID]:
			return &Error{Key: key + ".appid", Msg: "is configured twice"}
		case a.Secret == "":
			return &Error{Key: key + ".secret", Msg: "must not be empty"}
		case a.MsgFormat != "JSON" && a.MsgFormat != "XML":
			return &Error{Key: key + ".msg_format", Msg: "must be JSON or XML"}
		case a.AESKey != "" && !validAESKey(a.AESKey):
			return &Error{Key: key + ".aes_key", Msg: "must be a 43-character EncodingAESKey"}
		case a.AESKey != "" && a.Token == "":
			return &Error{Key: key + ".token", Msg: "must be set when aes_key is set"}
		case a.PushMode != miniback.PushModePlain && a.PushMode != miniback.PushModeCompat && a.PushMode != miniback.PushModeSafe:
			return &Error{Key: key + ".push_mode", Msg: "must be plain, compat or safe"}
		case a.PushMode != miniback.PushModePlain && a.AESKey == "":
			return &Error{Key: key + ".push_mode", Msg: "compat and safe need aes_key"}
		}
		if a.PushURL != "" {
			if u, err := url.Parse(a.PushURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return &Error{Key: key + ".push_url", Msg: "must be an http(s) URL"}
			}
		}
		if err := c.validatePay(key+".pay", a.Pay); err != nil {
			return err
		}
		seen[a.AppID] = true
	}
	return nil
}

func validAESKey(k string) bool {
	if len(k) != 43 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(k + "=")
	return err == nil && len(b) == 32
}

// maskURL replaces the password of raw with xxxxx. A URL that does not
// parse is not shown at all: it may hold a password in a place url.Parse
// cannot find.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(malformed URL)"
	}
	if u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

var mchIDPattern = regexp.MustCompile(`^[0-9]{1,32}$`)

// validatePay checks an app's pay block. In the sandbox, serial_no,
// private_key and notify_url may be left out (a key is generated and the
// server's own notify route used) and notify_url may be http://.
func (c *Config) validatePay(key string, p Pay) error {
	if !p.Configured() {
		if p != (Pay{}) {
			return &Error{Key: key + ".mchid", Msg: "must be set when any pay key is"}
		}
		return nil
	}
	sandbox := c.WeChat.PayAPIBase == APIBaseSandbox
	switch {
	case !mchIDPattern.MatchString(p.MchID):
		return &Error{Key: key + ".mchid", Msg: "must be the merchant number (digits)"}
	case p.SerialNo == "" && !sandbox:
		return &Error{Key: key + ".serial_no", Msg: "must be the serial of the merchant API certificate"}
	case p.PrivateKey == "" && !sandbox:
		return &Error{Key: key + ".private_key", Msg: "is required (private_key_file: the merchant API key, RSA 2048, PKCS#8 PEM)"}
	case len(p.APIv3Key) != 32:
		return &Error{Key: key + ".apiv3_key", Msg: "must be exactly 32 bytes"}
	case (p.PublicKeyID == "") != (p.PublicKey == ""):
		return &Error{Key: key + ".public_key_id", Msg: "public_key_id and public_key_file go together"}
	case p.PublicKeyID != "" && !strings.HasPrefix(p.PublicKeyID, wechatpay.PublicKeyIDPrefix):
		return &Error{Key: key + ".public_key_id", Msg: "must start with " + wechatpay.PublicKeyIDPrefix}
	}
	if p.PrivateKey != "" {
		if _, err := wechatpay.ParsePrivateKey([]byte(p.PrivateKey)); err != nil {
			return &Error{Key: key + ".private_key", Msg: "must be an RSA 2048 private key in PKCS#8 PEM"}
		}
	}
	if p.PublicKey != "" {
		if _, err := wechatpay.ParsePublicKey([]byte(p.PublicKey)); err != nil {
			return &Error{Key: key + ".public_key", Msg: "must be an RSA public key in PEM"}
		}
	}
	if err := checkNotifyURL(key+".notify_url", p.NotifyURL, sandbox); err != nil {
		return err
	}
	if p.WebhookURL != "" {
		if u, err := url.Parse(p.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Key: key + ".webhook_url", Msg: "must be an http(s) URL"}
		}
	}
	return nil
}

func checkNotifyURL(key, raw string, sandbox bool) error {
	if raw == "" {
		if sandbox {
			return nil
		}
		return &Error{Key: key, Msg: "is required: the HTTPS address of /wx/pay/notify/{appid}"}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return &Error{Key: key, Msg: "must be an absolute URL"}
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return &Error{Key: key, Msg: "must not have a query string (WeChat Pay refuses it)"}
	case u.Scheme != "https" && !(sandbox && u.Scheme == "http"):
		return &Error{Key: key, Msg: "must be https"}
	}
	return nil
}

func (c *Config) validateHousekeeping() error {
	switch r := c.Retention; {
	case r.Inbox < time.Hour:
		return &Error{Key: "retention.inbox", Msg: "must be at least 1h"}
	case r.Messages < time.Hour:
		return &Error{Key: "retention.messages", Msg: "must be at least 1h"}
	case r.Interval < time.Second:
		return &Error{Key: "retention.interval", Msg: "must be at least 1s"}
	case c.WxaCode.CacheMax < 1:
		return &Error{Key: "wxacode.cache_max", Msg: "must be at least 1"}
	}
	return nil
}
