package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/sandbox"
)

// The hot paths of docs/benchmarks.md, each in process (the real Main's
// handler called directly: server CPU only, no sockets) and over loopback
// HTTP (parallel clients on the same cores). Main logs JSON request lines
// to io.Discard, as in production but without the disk.

// hotMain runs Main in sandbox mode with the default configuration (request
// lines logged) until the benchmark ends.
func hotMain(b *testing.B) *Main {
	b.Helper()
	cfg, err := config.Load("", nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = b.TempDir()
	cfg.Database.URL = "sqlite://" + cfg.DataDir + "/miniback.db"
	m := &Main{Config: cfg, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Stdout: io.Discard}
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

// hotLogin logs a new sandbox user in over HTTP and returns the access
// token.
func hotLogin(b *testing.B, m *Main) string {
	b.Helper()
	code, err := m.Sandbox.Login(config.DemoAppID, "")
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.Post("http://"+m.Addr()+"/api/v1/"+config.DemoAppID+"/login", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		b.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// BenchmarkMeInProcess is GET /me through the whole handler chain
// (request id, metrics, request log, app check, token, revocation check,
// user, JSON), parallel, without sockets.
func BenchmarkMeInProcess(b *testing.B) {
	m := hotMain(b)
	tok := hotLogin(b, m)
	h := m.server.Handler
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/me"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("me: %d %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkMeOverHTTP is GET /me over loopback HTTP from 8 parallel
// keep-alive clients per core.
func BenchmarkMeOverHTTP(b *testing.B) {
	m := hotMain(b)
	tok := hotLogin(b, m)
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/me"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for pb.Next() {
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("me: %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkLoginInProcess is POST /login through the handler chain with a
// fresh sandbox code each time (new users): code2session over loopback
// HTTP to the embedded sandbox, one store transaction, sealing, signing.
func BenchmarkLoginInProcess(b *testing.B) {
	m := hotMain(b)
	h := m.server.Handler
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/login"
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code, err := m.Sandbox.Login(config.DemoAppID, "")
			if err != nil {
				b.Error(err)
				return
			}
			req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(`{"code":"`+code+`"}`))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("login: %d %s", w.Code, w.Body)
				return
			}
		}
	})
}

// BenchmarkLoginOverHTTP is BenchmarkLoginInProcess with the login itself
// POSTed over loopback HTTP by parallel clients.
func BenchmarkLoginOverHTTP(b *testing.B) {
	m := hotMain(b)
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/login"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code, err := m.Sandbox.Login(config.DemoAppID, "")
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := hc.Post(url, "application/json", strings.NewReader(`{"code":"`+code+`"}`))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("login: %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkPushInProcess is a safe-mode JSON push through the handler
// chain: both signatures, decrypt, parse, inbox insert and queue publish
// before "success". Run it with -benchtime=Nx (pushes are built first).
func BenchmarkPushInProcess(b *testing.B) {
	m := hotMain(b)
	pushes := buildPushes(b, m, b.N)
	h := m.server.Handler
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := pushes[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodPost, p.URL, bytes.NewReader(p.Body))
			req.Header.Set("Content-Type", p.ContentType)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("push: %d %s", w.Code, w.Body)
				return
			}
		}
	})
}

func buildPushes(b *testing.B, m *Main, n int) []*sandbox.BuiltPush {
	b.Helper()
	base := time.Now().UnixNano()
	pushes := make([]*sandbox.BuiltPush, n)
	for i := range pushes {
		msg := fmt.Sprintf(`{"ToUserName":"gh_bench","FromUserName":"o-bench","CreateTime":%d,"MsgType":"text","Content":"hello %d","MsgId":%d}`,
			time.Now().Unix(), i, base+int64(i))
		p, err := m.Sandbox.BuildPush(sandbox.PushRequest{AppID: config.DemoAppID, Message: json.RawMessage(msg), Mode: sandbox.ModeSafe})
		if err != nil {
			b.Fatal(err)
		}
		pushes[i] = p
	}
	return pushes
}

// BenchmarkPushEndToEnd is the whole life of a safe-mode JSON push, in
// process: the request path of BenchmarkPushInProcess, then the consumer
// taking the id off the queue, the router's handlers (the default log
// rule) and the finished inbox row. It reports the CPU seconds of the
// whole process (getrusage) per push from the first request until every
// pushed row is finished and its queue message acknowledged; on a shared
// machine that is the figure to compare, not ns/op.
//
//	go test -run '^$' -bench PushEndToEnd -benchtime 4000x -count 3 ./cmd/miniback/
func BenchmarkPushEndToEnd(b *testing.B) {
	m := hotMain(b)
	pushes := buildPushes(b, m, b.N)
	h := m.server.Handler
	ctx := context.Background()
	for { // Run creates the inbox's consumer shortly after Main starts
		if _, err := m.Queue.Pending(ctx, "inbox"); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := pushes[next.Add(1)-1]
			// Not httptest.NewRequest: it parses a whole request text
			// (4 KB of buffers each), the client's work, not the server's.
			req, err := http.NewRequest(http.MethodPost, p.URL, bytes.NewReader(p.Body))
			if err != nil {
				b.Error(err)
				return
			}
			req.RemoteAddr = "192.0.2.1:1234"
			req.Header.Set("Content-Type", p.ContentType)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("push: %d %s", w.Code, w.Body)
				return
			}
		}
	})
	for {
		n, err := m.Queue.Pending(ctx, "inbox")
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cpuAll := cpuTime()
	b.StopTimer()
	left, err := m.DB.Inbox.Inbox(ctx, config.DemoAppID, miniback.InboxQuery{Status: miniback.InboxReceived, Limit: 1})
	if err != nil || len(left) != 0 {
		b.Fatalf("rows still received after the queue emptied: %d, %v", len(left), err)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(per(cpuAll-cpu0), "cpu_µs/push")
}
