package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/config"
)

// BenchmarkIngestEvents sends batches of 20 events over loopback HTTP to one
// instance on SQLite (anonymous events, 64 clients at once) and reports
// the events answered 202 per second — each durable on the queue — and, after
// the loop, the rate at which they were all written to the database.
//
//	go test -run '^$' -bench IngestEvents -benchtime 2000x ./cmd/miniback
//
// MINIBACK_BENCH_DATABASE_URL runs it on another engine (an empty database).
func BenchmarkIngestEvents(b *testing.B) {
	m := benchMain(b, func(c *config.Config) {
		c.Analytics.Anonymous = true
		c.Analytics.MaxEventsPerUserPerDay = 1 << 30
		if u := os.Getenv("MINIBACK_BENCH_DATABASE_URL"); u != "" {
			c.Database.URL = u // e.g. postgres://…: the same run on a server engine
		}
	})
	url := "http://" + m.Addr() + "/api/v1/" + config.DemoAppID + "/events"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	now := time.Now().UnixMilli()
	var seq atomic.Int64
	cpu0 := cpuTime()
	start := time.Now()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			postBenchBatch(b, client, url, seq.Add(1), now)
		}
	})
	accepted := time.Since(start)
	b.StopTimer()
	total := int64(b.N) * 20
	b.ReportMetric(float64(total)/accepted.Seconds(), "accepted_events/s")
	loc := m.Config.Analytics.Location()
	for {
		pts, err := m.DB.Events.Series(context.Background(), miniback.SeriesQuery{AppID: config.DemoAppID, Name: "bench",
			From: time.UnixMilli(now).Add(-time.Hour), To: time.UnixMilli(now).Add(time.Hour), Hourly: true, Loc: loc})
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, p := range pts {
			n += p.Count
		}
		if n >= total {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "written_events/s")
	// On a shared machine the wall-clock rates depend on the other load;
	// events per CPU-second of this process (clients included) do less.
	b.ReportMetric(float64(total)/(cpuTime()-cpu0).Seconds(), "events/cpu_s")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postBenchBatch posts the n-th batch of the ingest benchmarks: 20
// anonymous "bench" events at now, from 20 of 5,000 devices in turn, each
// with two props. It fails the benchmark unless the answer is 202.
func postBenchBatch(b *testing.B, client *http.Client, url string, n, now int64) {
	events := make([]map[string]any, 20)
	for i := range events {
		events[i] = map[string]any{"name": "bench", "ts": now, "device_id": fmt.Sprintf("d%d", (n*20+int64(i))%5000),
			"props": map[string]any{"src": "ad", "n": i}}
	}
	body, _ := json.Marshal(map[string]any{"events": events})
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
