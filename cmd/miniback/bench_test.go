package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// BenchmarkLoginRoundTrip measures a whole login over loopback HTTP against
// the in-process sandbox: the sandbox hands out a code (as the phone would),
// then POST /login runs code2session, the user upsert, the session insert
// and the token signing.
func BenchmarkLoginRoundTrip(b *testing.B) {
	cfg, err := config.Load("", nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Database.URL = "sqlite://" + cfg.DataDir + "/miniback.db"
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	go m.Run(ctx)
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
	cfg, _ := config.Load("", nil)
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Database.URL = "sqlite://" + cfg.DataDir + "/miniback.db"
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	go m.Run(ctx)
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
