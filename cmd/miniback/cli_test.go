package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := "listen: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\napps:\n  - appid: wxa\n    secret: s\n"
	tests := []struct {
		name    string
		args    []string
		env     []string
		code    int
		wantOut string
		wantErr string
	}{
		{"no command", nil, nil, 2, "", "Usage"},
		{"unknown command", []string{"fly"}, nil, 2, "", "unknown command"},
		{"version", []string{"version"}, nil, 0, "miniback", ""},
		{"bad flag", []string{"serve", "--nope"}, nil, 2, "", "flag provided but not defined"},
		{"unknown key", []string{"serve", "--config", write("a.yaml", base+"colour: red\n")}, nil, 2, "", "colour"},
		{"bad env", []string{"migrate"}, []string{"MINIBACK_WECHAT_TIMEOUT=soon"}, 2, "", "wechat.timeout"},
		{"bad push rule", []string{"serve", "--config", write("b.yaml", base+"push:\n  rules:\n    - content_regex: \"(\"\n      handler: log\n")}, nil, 2, "", "push.rules"},
		{"unknown database scheme", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=oracle://u:s3cretpw@127.0.0.1/x"}, 2, "", "database.url"},
		{"database url not a url", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=postgres://u:s3cretpw@127.0.0.1:54 32/x"}, 2, "", "database.url"},
		{"malformed mysql url", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=mysql://u:s3cretpw@127.0.0.1:1/x?timeout=soon"}, 2, "", "database.url: is malformed"},
		{"malformed postgres url", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=postgres://u:s3cretpw@127.0.0.1:1/x?connect_timeout=soon"}, 2, "", "database.url: is malformed"},
		{"unreachable postgres", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=postgres://u:s3cretpw@127.0.0.1:1/x?sslmode=disable"}, 2, "", "database.url: cannot connect"},
		{"unreachable mysql", []string{"migrate"}, []string{"MINIBACK_DATABASE_URL=mysql://u:s3cretpw@127.0.0.1:1/x"}, 2, "", "database.url: cannot connect"},
		{"unknown redis scheme", []string{"migrate"}, []string{"MINIBACK_REDIS_URL=memcached://u:s3cretpw@127.0.0.1:1"}, 2, "", "redis.url"},
		{"malformed redis url", []string{"serve", "--config", write("r1.yaml", base)}, []string{"MINIBACK_REDIS_URL=redis://:s3cretpw@127.0.0.1:1/x"}, 2, "", "redis.url: is malformed"},
		{"unreachable redis", []string{"serve", "--config", write("r2.yaml", base)}, []string{"MINIBACK_REDIS_URL=redis://:s3cretpw@127.0.0.1:1/0"}, 2, "", "redis.url: cannot connect"},
		{"queue prefix with a dot", []string{"migrate"}, []string{"MINIBACK_QUEUE_PREFIX=a.b"}, 2, "", "queue.prefix"},
		{"queue replicas 2", []string{"migrate"}, []string{"MINIBACK_QUEUE_URL=nats://127.0.0.1:4222", "MINIBACK_QUEUE_REPLICAS=2"}, 2, "", "queue.replicas"},
		{"queue replicas embedded", []string{"migrate"}, []string{"MINIBACK_QUEUE_REPLICAS=3"}, 2, "", "queue.replicas"},
		{"retention inbox under 1h", []string{"migrate"}, []string{"MINIBACK_RETENTION_INBOX=59m"}, 2, "", "retention.inbox"},
		{"retention messages under 1h", []string{"migrate"}, []string{"MINIBACK_RETENTION_MESSAGES=30m"}, 2, "", "retention.messages"},
		{"retention interval under 1s", []string{"migrate"}, []string{"MINIBACK_RETENTION_INTERVAL=500ms"}, 2, "", "retention.interval"},
		{"wxacode cache_max 0", []string{"migrate"}, []string{"MINIBACK_WXACODE_CACHE_MAX=0"}, 2, "", "wxacode.cache_max"},
		{"redis prefix with a brace", []string{"migrate"}, []string{"MINIBACK_REDIS_PREFIX=a{b}"}, 2, "", "redis.prefix"},
		{"pay apiv3 key not 32 bytes", []string{"serve", "--config", write("p1.yaml", base+"    pay:\n      mchid: \"1900000109\"\n      serial_no: S\n      private_key: x\n      apiv3_key: short\n")}, nil, 2, "", "apps[0].pay.apiv3_key"},
		{"pay private key not a key", []string{"serve", "--config", write("p2.yaml", base)}, []string{`MINIBACK_APPS=[{"appid":"wxa","secret":"s","pay":{"mchid":"1","serial_no":"S","private_key":"x","apiv3_key":"0123456789abcdef0123456789abcdef","notify_url":"https://x.test/n?a=1"}}]`}, 2, "", "apps[0].pay.private_key"},
		{"migrate", []string{"migrate", "--config", write("c.yaml", base)}, nil, 0, "migrations applied", ""},
		{"missing config file", []string{"serve", "--config", filepath.Join(dir, "none.yaml")}, nil, 2, "", "--config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, tt.env, &out, &errb)
			if got := exitCode(err, &errb); got != tt.code {
				t.Fatalf("exit %d, want %d (err %v, stderr %s)", got, tt.code, err, errb.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
			}
			if strings.Contains(errb.String(), "s3cretpw") {
				t.Fatalf("stderr shows the password: %q", errb.String())
			}
		})
	}
}
