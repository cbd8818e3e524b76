package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/state/redis/redistest"
	"github.com/miniback/miniback/internal/store/storetest"
)

// TestURLsThatDoNotConnect starts `miniback serve` with each of
// database.url, redis.url and queue.url naming a real server with
// credentials it refuses, and a queue.url no server answers: each is an
// exit-2 configuration error naming the key, and the password appears
// nowhere in the output.
func TestURLsThatDoNotConnect(t *testing.T) {
	const secret = "s3cretpw"
	withUser := func(raw, user string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(user, secret)
		return u.String()
	}
	mysqlURL := storetest.MySQLURL(t)
	mysqlUser, _ := url.Parse(mysqlURL)
	nats := startNATSWithPassword(t, "miniback", "the-right-one")
	tests := []struct {
		name, env, key string
	}{
		{"postgres unknown role", "MINIBACK_DATABASE_URL=" + withUser(storetest.PostgresURL(t), "nobody_a7"), "database.url"},
		{"mysql wrong password", "MINIBACK_DATABASE_URL=" + withUser(mysqlURL, mysqlUser.User.Username()), "database.url"},
		{"redis wrong password", "MINIBACK_REDIS_URL=" + withUser(redistest.URL(t), "nobody"), "redis.url"},
		{"nats wrong password", "MINIBACK_QUEUE_URL=nats://miniback:" + secret + "@" + nats, "queue.url"},
		{"nats unreachable", "MINIBACK_QUEUE_URL=nats://miniback:" + secret + "@" + freeAddr(t), "queue.url"},
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	body := "listen: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\nwechat:\n  api_base: http://127.0.0.1:1\napps:\n  - appid: wxa\n    secret: s\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A serve that wrongly starts ends with the context: exit 0.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			err := run(ctx, []string{"serve", "--config", cfg}, []string{tt.env}, &out, &errb)
			if got := exitCode(err, &errb); got != 2 {
				t.Fatalf("exit %d, want 2 (stderr %s)", got, errb.String())
			}
			if want := "config: " + tt.key + ": cannot connect"; !strings.Contains(errb.String(), want) {
				t.Fatalf("stderr %q, want %q", errb.String(), want)
			}
			if strings.Contains(out.String()+errb.String(), secret) {
				t.Fatalf("the password is printed: %s%s", out.String(), errb.String())
			}
		})
	}
}

// startNATSWithPassword runs a nats-server that accepts only user and
// pass, and returns its address.
func startNATSWithPassword(t *testing.T, user, pass string) string {
	requireBinary(t, "nats-server")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("nats-server", "-a", "127.0.0.1", "-p", port, "--user", user, "--pass", pass)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() })
	waitUntil(t, 10*time.Second, "nats-server", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}
