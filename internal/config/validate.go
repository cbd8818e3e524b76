package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
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
	c.fillRoutes()
	for i := range c.Apps {
		c.Apps[i].MsgFormat = strings.ToUpper(c.Apps[i].MsgFormat)
		if c.Apps[i].MsgFormat == "" {
			c.Apps[i].MsgFormat = "XML" // the WeChat console's default
		}
	}
}

// DemoApp is the app of sandbox mode.
func DemoApp() App {
	return App{AppID: DemoAppID, Secret: demoSecret, Token: demoToken, AESKey: demoAESKey, MsgFormat: "JSON"}
}

var appIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks every value and returns an *Error naming the first bad key.
func (c *Config) Validate() error {
	checks := []func() error{c.validateServer, c.validateBackends, c.validateWeChat, c.validateAuth, c.validateApps, c.validateEdge}
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

func (c *Config) validateBackends() error {
	if err := checkScheme("database.url", c.Database.URL, "sqlite", "mysql", "postgres", "postgresql"); err != nil {
		return err
	}
	if c.Redis.URL != "" {
		if err := checkScheme("redis.url", c.Redis.URL, "redis", "rediss", "redis+cluster"); err != nil {
			return err
		}
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
		}
		if a.PushURL != "" {
			if u, err := url.Parse(a.PushURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return &Error{Key: key + ".push_url", Msg: "must be an http(s) URL"}
			}
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

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
