package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const validYAML = `
listen: ":9090"
wechat:
  timeout: 3s
apps:
  - appid: wx1234567890abcdef
    secret: s3cret
    token: tok
    aes_key: c2FuZGJveGRlbW9hZXNrZXkwMTIzNDU2Nzg5YWJjZGU
    msg_format: json
`

func TestLoadNothingIsSandbox(t *testing.T) {
	cfg, err := Load("", []string{"HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sandbox || cfg.WeChat.APIBase != APIBaseSandbox || len(cfg.Apps) != 1 || cfg.Apps[0].AppID != DemoAppID {
		t.Fatalf("not sandbox mode: %+v", cfg)
	}
	if cfg.Database.URL != "sqlite://./data/miniback.db" {
		t.Fatalf("database url = %q", cfg.Database.URL)
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	secretFile := writeFile(t, "secret", "from-file\n")
	file := writeFile(t, "c.yaml", validYAML)
	cfg, err := Load(file, []string{
		"MINIBACK_WECHAT_TIMEOUT=7s",
		"MINIBACK_DATABASE_AUTO_MIGRATE=false",
		"MINIBACK_ADMIN_API_KEYS=aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb",
		"MINIBACK_DATABASE_URL_FILE=" + writeFile(t, "db", "postgres://u:p@127.0.0.1/test"),
		"OTHER=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sandbox || cfg.Listen != ":9090" || cfg.WeChat.Timeout != 7*time.Second || cfg.Database.AutoMigrate {
		t.Fatalf("unexpected %+v", cfg)
	}
	if cfg.Database.URL != "postgres://u:p@127.0.0.1/test" || len(cfg.Admin.APIKeys) != 2 {
		t.Fatalf("unexpected %+v", cfg)
	}
	if cfg.Apps[0].MsgFormat != "JSON" {
		t.Fatalf("msg_format not normalised: %q", cfg.Apps[0].MsgFormat)
	}
	_ = secretFile
}

func TestLoadSecretFileKey(t *testing.T) {
	secretFile := writeFile(t, "secret", "from-file\n")
	file := writeFile(t, "c.yaml", "apps:\n  - appid: wxa\n    secret_file: "+secretFile+"\n")
	cfg, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Apps[0].Secret != "from-file" {
		t.Fatalf("secret = %q", cfg.Apps[0].Secret)
	}
}

func TestLoadAppsFromEnv(t *testing.T) {
	cfg, err := Load("", []string{`MINIBACK_APPS=[{"appid":"wxa","secret":"s"},{"appid":"wxb","secret":"t","msg_format":"XML"}]`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sandbox || len(cfg.Apps) != 2 || cfg.Apps[1].AppID != "wxb" {
		t.Fatalf("unexpected %+v", cfg)
	}
}

// TestPushModeAndLegacyDefaults: push_mode defaults to safe with an
// aes_key and to plain without; legacy_decrypt defaults to off.
func TestPushModeAndLegacyDefaults(t *testing.T) {
	yaml := "apps:\n  - appid: wxa\n    secret: s\n    token: t\n    aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n" +
		"  - appid: wxb\n    secret: s\n  - appid: wxc\n    secret: s\n    token: t\n    aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n    push_mode: Compat\n    legacy_decrypt: true\n"
	cfg, err := Load(writeFile(t, "c.yaml", yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Apps[0].PushMode, cfg.Apps[1].PushMode, cfg.Apps[2].PushMode}
	if got[0] != "safe" || got[1] != "plain" || got[2] != "compat" {
		t.Errorf("push modes %v, want [safe plain compat]", got)
	}
	if cfg.Apps[0].LegacyDecrypt || cfg.Apps[1].LegacyDecrypt || !cfg.Apps[2].LegacyDecrypt {
		t.Errorf("legacy_decrypt %v %v %v, want false false true", cfg.Apps[0].LegacyDecrypt, cfg.Apps[1].LegacyDecrypt, cfg.Apps[2].LegacyDecrypt)
	}
	if sb, err := Load("", nil); err != nil || sb.Apps[0].PushMode != "safe" {
		t.Errorf("sandbox demo app: %+v, %v", sb.Apps, err)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	base := "apps:\n  - appid: wxa\n    secret: s\n"
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantKey string
	}{
		{"unknown top key", base + "listne: x\n", nil, "listne"},
		{"unknown nested key", base + "database:\n  urll: x\n", nil, "database.urll"},
		{"unknown app key", "apps:\n  - appid: wxa\n    secret: s\n    secert: x\n", nil, "apps[0].secert"},
		{"bad duration", base + "wechat:\n  timeout: soon\n", nil, "wechat.timeout"},
		{"negative max age", base + "push:\n  max_age: -1s\n", nil, "push.max_age"},
		{"bad token mode", base + "wechat:\n  token_mode: fast\n", nil, "wechat.token_mode"},
		{"bad api base", base + "wechat:\n  api_base: ftp://x\n", nil, "wechat.api_base"},
		{"bad database scheme", base + "database:\n  url: oracle://x\n", nil, "database.url"},
		{"bad redis scheme", base + "redis:\n  url: http://x\n", nil, "redis.url"},
		{"bad queue scheme", base + "queue:\n  url: amqp://x\n", nil, "queue.url"},
		{"missing secret", "apps:\n  - appid: wxa\n", nil, "apps[0].secret"},
		{"duplicate appid", base + "  - appid: wxa\n    secret: t\n", nil, "apps[1].appid"},
		{"bad aes key", "apps:\n  - appid: wxa\n    secret: s\n    token: t\n    aes_key: short\n", nil, "apps[0].aes_key"},
		{"bad msg format", "apps:\n  - appid: wxa\n    secret: s\n    msg_format: yaml\n", nil, "apps[0].msg_format"},
		{"short admin key", base + "admin:\n  api_keys: [short]\n", nil, "admin.api_keys[0]"},
		{"bad push mode", "apps:\n  - appid: wxa\n    secret: s\n    push_mode: secret\n", nil, "apps[0].push_mode"},
		{"safe mode without aes key", "apps:\n  - appid: wxa\n    secret: s\n    token: t\n    push_mode: safe\n", nil, "apps[0].push_mode"},
		{"legacy_decrypt not a bool", "apps:\n  - appid: wxa\n    secret: s\n    legacy_decrypt: perhaps\n", nil, "apps[0].legacy_decrypt"},
		{"bool as list", base + "database:\n  auto_migrate: [1]\n", nil, "database.auto_migrate"},
		{"unknown env", base, []string{"MINIBACK_NOPE=1"}, "MINIBACK_NOPE"},
		{"bad env duration", base, []string{"MINIBACK_AUTH_ACCESS_TTL=x"}, "auth.access_ttl"},
		{"bad env bool", base, []string{"MINIBACK_DATABASE_AUTO_MIGRATE=maybe"}, "database.auto_migrate"},
		{"bad env apps", base, []string{"MINIBACK_APPS={"}, "MINIBACK_APPS"},
		{"missing env file", base, []string{"MINIBACK_DATABASE_URL_FILE=/nonexistent/x"}, "MINIBACK_DATABASE_URL_FILE"},
		{"refresh shorter than access", base + "auth:\n  refresh_ttl: 1m\n", nil, "auth.refresh_ttl"},
		{"bad log level", base + "log:\n  level: loud\n", nil, "log.level"},
		{"bad log format", base + "log:\n  format: xml\n", nil, "log.format"},
		{"bad log requests", base, []string{"MINIBACK_LOG_REQUESTS=sometimes"}, "log.requests"},
		{"bad metrics listen", base + "metrics:\n  listen: nine-oh-nine-oh\n", nil, "metrics.listen"},
		{"metrics on the main listener", base + "listen: 127.0.0.1:8080\nmetrics:\n  listen: 127.0.0.1:8080\n", nil, "metrics.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tt.yaml), tt.env)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			if cerr.Key != tt.wantKey {
				t.Fatalf("key = %q, want %q (%v)", cerr.Key, tt.wantKey, err)
			}
		})
	}
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	_, err := Load(writeFile(t, "c.yaml", "apps:\n  - appid: wxa\n    secret: [hunter2hunter2]\n"), nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	cfg, err := Load("", []string{"MINIBACK_DATABASE_URL=postgres://u:topsecret@h/db"})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.LogValue().String()
	if strings.Contains(s, "topsecret") || strings.Contains(s, demoSecret) || strings.Contains(s, demoAESKey) {
		t.Fatalf("secret in %s", s)
	}
}

func TestLoadPushRules(t *testing.T) {
	secret := writeFile(t, "hook", "hook-secret\n")
	file := writeFile(t, "c.yaml", `apps:
  - appid: wxa
    secret: s
queue:
  ack_wait: 5s
push:
  rules:
    - msg_type: text
      content_regex: "^order"
      handler: webhook
      webhook_url: https://example.com/hook
      webhook_secret_file: `+secret+`
      continue: true
    - handler: log
`)
	cfg, err := Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Push.Rules) != 2 || cfg.Push.Rules[0].WebhookSecret != "hook-secret" || !cfg.Push.Rules[0].Continue || cfg.Queue.AckWait != 5*time.Second {
		t.Fatalf("rules = %+v", cfg.Push.Rules)
	}
	_, err = Load(writeFile(t, "c.yaml", "apps:\n  - appid: wxa\n    secret: s\npush:\n  rules:\n    - handlr: log\n"), nil)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Key != "push.rules[0].handlr" {
		t.Fatalf("err = %v", err)
	}
}

// TestSandboxListensOnLoopback: with the embedded sandbox, listen defaults
// to 127.0.0.1:8080, since its control routes mint users; an explicit
// listen (file or environment) is kept; without the sandbox the default
// stays :8080 (issue #6 item 8).
func TestSandboxListensOnLoopback(t *testing.T) {
	apps := "apps:\n  - appid: wxa\n    secret: s\n"
	tests := []struct {
		name, yaml string
		env        []string
		want       string
		wantSet    bool
	}{
		{"sandbox mode", "", nil, "127.0.0.1:8080", false},
		{"sandbox mode, listen by environment", "", []string{"MINIBACK_LISTEN=:9000"}, ":9000", true},
		{"configured apps on the sandbox", apps + "wechat:\n  api_base: sandbox\n", nil, "127.0.0.1:8080", false},
		{"configured apps on the sandbox, listen in the file", apps + "listen: 0.0.0.0:8080\nwechat:\n  api_base: sandbox\n", nil, "0.0.0.0:8080", true},
		{"real WeChat", apps, nil, ":8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := ""
			if tt.yaml != "" {
				file = writeFile(t, "c.yaml", tt.yaml)
			}
			cfg, err := Load(file, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != tt.want || cfg.ListenSet != tt.wantSet {
				t.Errorf("listen %q (set %v), want %q (set %v)", cfg.Listen, cfg.ListenSet, tt.want, tt.wantSet)
			}
		})
	}
}

func TestIntegerKeys(t *testing.T) {
	base := "apps:\n  - appid: wxa\n    secret: s\n"
	cfg, err := Load(writeFile(t, "c.yaml", base+"database:\n  max_open_conns: 20\n"), []string{"MINIBACK_DATABASE_MAX_IDLE_CONNS=7"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.MaxOpenConns != 20 || cfg.Database.MaxIdleConns != 7 {
		t.Fatalf("max_open_conns %d, max_idle_conns %d", cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns)
	}
	_, err = Load(writeFile(t, "d.yaml", base+"database:\n  max_open_conns: many\n"), nil)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Key != "database.max_open_conns" {
		t.Fatalf("err = %v, want one naming database.max_open_conns", err)
	}
}

// TestKeyFilesArePaths: auth.signing_key_file and auth.seal_key_file keep
// the path they are given, from the file or the environment, instead of
// reading the key in as other *_file keys do (issue #6 item 11).
func TestKeyFilesArePaths(t *testing.T) {
	signing := writeFile(t, "signing.pem", "-----BEGIN PRIVATE KEY-----\n")
	seal := writeFile(t, "seal.key", "c2VhbA==\n")
	base := "apps:\n  - appid: wxa\n    secret: s\n"
	fromFile, err := Load(writeFile(t, "c.yaml", base+"auth:\n  signing_key_file: "+signing+"\n  seal_key_file: "+seal+"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := Load(writeFile(t, "d.yaml", base), []string{"MINIBACK_AUTH_SIGNING_KEY_FILE=" + signing, "MINIBACK_AUTH_SEAL_KEY_FILE=" + seal})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{"file": fromFile, "environment": fromEnv} {
		if cfg.Auth.SigningKeyFile != signing || cfg.Auth.SealKeyFile != seal {
			t.Errorf("%s: signing %q, seal %q; want the paths %q and %q", name, cfg.Auth.SigningKeyFile, cfg.Auth.SealKeyFile, signing, seal)
		}
	}
}
