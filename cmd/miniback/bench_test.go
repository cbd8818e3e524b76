package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/sandbox"
)

// benchMain runs Main in sandbox mode on 127.0.0.1:0 until the benchmark ends.
func benchMain(b *testing.B, mutate ...func(*config.Config)) *Main {
	b.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Database.URL = "sqlite://" + cfg.DataDir + "/miniback.db"
	cfg.Analytics.DatacubeAt = "off" // its background WeChat calls would skew the sandbox's call counts
	for _, f := range mutate {
		f(&cfg)
	}
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; m.Close() })
	return m
}

// BenchmarkLoginRoundTrip measures a whole login over loopback HTTP against
// the in-process sandbox: the sandbox hands out a code (as the phone would),
// then POST /login runs code2session, the user upsert, the session insert
// and the token signing.
func BenchmarkLoginRoundTrip(b *testing.B) {
	m := benchMain(b)
	base := "http://" + m.Addr()
	loginURL := base + "/api/v1/" + config.DemoAppID + "/login"
	b.ReportAllocs()
	for b.Loop() {
		code, err := m.Sandbox.Login(config.DemoAppID, "")
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.Post(loginURL, "application/json", strings.NewReader(`{"code":"`+code+`"}`))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("login: %d", resp.StatusCode)
		}
	}
}

// BenchmarkAuthedRequest measures GET /me with a valid token: the cached
// signature check plus the revocation lookup on every request.
func BenchmarkAuthedRequest(b *testing.B) {
	m := benchMain(b)
	base := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID
	code, _ := m.Sandbox.Login(config.DemoAppID, "")
	resp, err := http.Post(base+"/login", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := strings.SplitN(strings.SplitN(string(raw), `"access_token":"`, 2)[1], `"`, 2)[0]
	req, _ := http.NewRequest("GET", base+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("me: %d", resp.StatusCode)
		}
	}
}

// BenchmarkPortalSafeJSONOverHTTP measures the push endpoint as WeChat
// hits it: signed, encrypted safe-mode JSON pushes, each a new message,
// POSTed over loopback HTTP by parallel clients; every one is verified,
// decrypted, stored in the inbox and queued before "success". Run it with
// -benchtime=Nx (the pushes are built before the timer starts).
func BenchmarkPortalSafeJSONOverHTTP(b *testing.B) {
	m := benchMain(b)
	pushes := make([]*sandbox.BuiltPush, b.N)
	for i := range pushes {
		msg := fmt.Sprintf(`{"ToUserName":"gh_bench","FromUserName":"o-bench","CreateTime":%d,"MsgType":"text","Content":"hello %d","MsgId":%d}`,
			time.Now().Unix(), i, 9000000000000000000+int64(i))
		p, err := m.Sandbox.BuildPush(sandbox.PushRequest{AppID: config.DemoAppID, Message: json.RawMessage(msg), Mode: sandbox.ModeSafe})
		if err != nil {
			b.Fatal(err)
		}
		pushes[i] = p
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := pushes[next.Add(1)-1]
			resp, err := http.Post(p.URL, p.ContentType, bytes.NewReader(p.Body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("push: %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
}
