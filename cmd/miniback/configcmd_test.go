package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "apps:\n  - appid: wxa\n    secret: s\n")
	tests := []struct {
		name    string
		args    []string
		env     []string
		code    int
		wantOut string
		wantErr string
	}{
		{"valid", []string{"check", "--config", good}, nil, 0, "configuration ok (1 apps)", ""},
		{"nothing is sandbox mode", []string{"check"}, nil, 0, "sandbox mode", ""},
		{"bad key value", []string{"check", "--config", write("a.yaml", "apps:\n  - appid: wxa\n    secret: s\nwechat:\n  timeout: soon\n")}, nil, 2, "", "wechat.timeout"},
		{"unknown key", []string{"check", "--config", write("b.yaml", "apps:\n  - appid: wxa\n    secret: s\nlog:\n  colour: red\n")}, nil, 2, "", "log.colour"},
		{"bad app", []string{"check", "--config", write("c.yaml", "apps:\n  - appid: wxa\n    secret: s\n    aes_key: tooshort-hunter2\n    token: t\n")}, nil, 2, "", "apps[0].aes_key"},
		{"bad env", []string{"check", "--config", good}, []string{"MINIBACK_LOG_LEVEL=loud"}, 2, "", "log.level"},
		{"unreadable secret file", []string{"check", "--config", write("d.yaml", "apps:\n  - appid: wxa\n    secret_file: /nonexistent/secret\n")}, nil, 2, "", "apps[0].secret_file"},
		{"not YAML", []string{"check", "--config", write("e.yaml", "apps: [\n")}, nil, 2, "", "invalid YAML"},
		{"no subcommand", nil, nil, 2, "", "check or print"},
		{"unknown subcommand", []string{"lint"}, nil, 2, "", "unknown config command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), append([]string{"config"}, tt.args...), tt.env, &out, &errb)
			if got := exitCode(err, &errb); got != tt.code {
				t.Fatalf("exit %d, want %d (stderr %s)", got, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
			}
			if strings.Contains(errb.String(), "hunter2") {
				t.Fatal("the error echoes a value")
			}
		})
	}
}

// TestConfigPrintMasksSecrets: every secret, whether written in the file,
// read through *_file or set by environment, is masked; the rest is shown.
func TestConfigPrintMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secrets := map[string]string{
		"app secret (file)":        "appsecret-in-file-0001",
		"app secret (secret_file)": "appsecret-via-file-0002",
		"push token":               "pushtoken0003",
		"aes key":                  "c2FuZGJveGRlbW9hZXNrZXkwMTIzNDU2Nzg5YWJjZGU",
		"admin key (env file)":     "admin-key-via-env-file-0004",
		"webhook secret (file)":    "webhook-secret-via-file-0005",
		"database password":        "dbpassword0006",
		"redis password":           "redispassword0007",
	}
	file := write("c.yaml", `
listen: 127.0.0.1:8080
database:
  url: postgres://miniback:`+secrets["database password"]+`@db.internal:5432/miniback?sslmode=disable
redis:
  url: redis://:`+secrets["redis password"]+`@redis.internal:6379/0
push:
  rules:
    - handler: webhook
      webhook_url: https://hooks.internal/wechat
      webhook_secret_file: `+write("hook", secrets["webhook secret (file)"]+"\n")+`
apps:
  - appid: wxa
    secret: `+secrets["app secret (file)"]+`
    token: `+secrets["push token"]+`
    aes_key: `+secrets["aes key"]+`
  - appid: wxb
    secret_file: `+write("b-secret", secrets["app secret (secret_file)"])+`
`)
	env := []string{"MINIBACK_ADMIN_API_KEYS_FILE=" + write("keys", secrets["admin key (env file)"]), "MINIBACK_LIMITS_LOGIN_PER_IP=10/m"}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"config", "print", "--config", file}, env, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	text := out.String()
	for what, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s is printed", what)
		}
	}
	var tree struct {
		Listen   string
		Database struct{ URL string }
		Admin    struct {
			APIKeys []string `yaml:"api_keys"`
		}
		Apps []struct {
			AppID  string `yaml:"appid"`
			Secret string
			Token  string
		}
		WeChat struct {
			Timeout string
		}
	}
	if err := yaml.Unmarshal(out.Bytes(), &tree); err != nil {
		t.Fatalf("config print is not YAML: %v\n%s", err, text)
	}
	if tree.Listen != "127.0.0.1:8080" || len(tree.Apps) != 2 || tree.Apps[1].AppID != "wxb" || tree.WeChat.Timeout != "5s" {
		t.Fatalf("non-secret values lost:\n%s", text)
	}
	if !strings.Contains(text, "login_per_ip: 10/m") {
		t.Errorf("a rate limit is not printed as it is written:\n%s", text)
	}
	if tree.Apps[0].Secret != "*****" || tree.Apps[1].Secret != "*****" || tree.Apps[0].Token != "*****" ||
		len(tree.Admin.APIKeys) != 1 || tree.Admin.APIKeys[0] != "*****" {
		t.Fatalf("secrets not shown as masked:\n%s", text)
	}
	if want := "postgres://miniback:%2A%2A%2A%2A%2A@db.internal:5432/miniback?sslmode=disable"; tree.Database.URL != want && tree.Database.URL != strings.ReplaceAll(want, "%2A", "*") {
		t.Fatalf("database url = %q, want the password masked and the rest kept", tree.Database.URL)
	}
}
