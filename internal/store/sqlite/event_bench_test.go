package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlite"
)

// benchEventNames are the generated events' names, the first ones the most
// frequent.
var benchEventNames = []string{"open", "view", "view", "open", "tap", "tap", "view", "buy", "share", "search", "cart", "pay"}

const benchDays = 90

// benchEventsDB opens the database of the query benchmarks, generating it
// first when it has no events: MINIBACK_BENCH_EVENTS events (default 1e6)
// of 100,000 users spread over the 90 days before 2026-12-01 (Shanghai),
// written through EventStore.AddEvents as the ingest writes them. Set
// MINIBACK_BENCH_EVENTS_DB to a file path to keep the database between
// runs (generating 10 million events takes minutes).
func benchEventsDB(b *testing.B) (*sqlite.DB, *time.Location) {
	b.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	path := os.Getenv("MINIBACK_BENCH_EVENTS_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "events.db")
	}
	n := 1_000_000
	if v := os.Getenv("MINIBACK_BENCH_EVENTS"); v != "" {
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	db := sqlite.NewDB(path)
	if err := db.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	es := sqlite.NewEventStore(db)
	names, err := es.EventNames(context.Background(), "wxbench", []string{"open"})
	if err != nil {
		b.Fatal(err)
	}
	if !names["open"] {
		start := time.Now()
		generateEvents(b, es, n, loc)
		b.Logf("generated %d events in %v (%.0f events/s)", n, time.Since(start), float64(n)/time.Since(start).Seconds())
	}
	return db, loc
}

func generateEvents(b *testing.B, es *sqlite.EventStore, n int, loc *time.Location) {
	rnd := rand.New(rand.NewPCG(1, 2))
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, loc).AddDate(0, 0, -benchDays)
	const perBatch, batchesPerCommit = 200, 50
	var batches []miniback.EventBatch
	for i := 0; i < n; i += perBatch {
		bt := miniback.EventBatch{AppID: "wxbench", ID: strconv.Itoa(i)}
		for j := 0; j < perBatch && i+j < n; j++ {
			day := (i + j) * benchDays / n // days fill in order, as time passes
			ts := first.AddDate(0, 0, day).Add(time.Duration(rnd.Int64N(int64(24 * time.Hour))))
			bt.Events = append(bt.Events, miniback.Event{
				Name: benchEventNames[rnd.IntN(len(benchEventNames))], TS: ts.UnixMilli(),
				User: "u:" + strconv.Itoa(rnd.IntN(100_000)), Page: "pages/index/index", Props: []byte(`{"src":"ad"}`)})
		}
		batches = append(batches, bt)
		if len(batches) == batchesPerCommit {
			if _, err := es.AddEvents(context.Background(), batches, loc); err != nil {
				b.Fatal(err)
			}
			batches = batches[:0]
		}
	}
	if _, err := es.AddEvents(context.Background(), batches, loc); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEventQueries times the admin queries on the generated events:
//
//	MINIBACK_BENCH_EVENTS=10000000 MINIBACK_BENCH_EVENTS_DB=/tmp/events10m.db \
//	  go test -run '^$' -bench EventQueries -benchtime 20x -timeout 2h ./internal/store/sqlite
func BenchmarkEventQueries(b *testing.B) {
	db, loc := benchEventsDB(b)
	es := sqlite.NewEventStore(db)
	ctx := context.Background()
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, loc)
	from90, from7 := end.AddDate(0, 0, -benchDays), end.AddDate(0, 0, -7)
	day := func(t time.Time) miniback.Day { return miniback.DayOf(t, loc) }
	cases := []struct {
		name string
		run  func() error
	}{
		{"Series90DaysDaily", func() error {
			_, err := es.Series(ctx, miniback.SeriesQuery{AppID: "wxbench", Name: "view", From: from90, To: end, Loc: loc})
			return err
		}},
		{"Series7DaysHourly", func() error {
			_, err := es.Series(ctx, miniback.SeriesQuery{AppID: "wxbench", Name: "view", From: from7, To: end, Hourly: true, Loc: loc})
			return err
		}},
		{"Retention30Cohorts", func() error {
			_, err := es.Retention(ctx, miniback.RetentionQuery{AppID: "wxbench", Event: "open", From: day(end) - 60, To: day(end) - 31})
			return err
		}},
		{"Active30Days", func() error {
			_, err := es.Active(ctx, miniback.ActiveQuery{AppID: "wxbench", From: day(end) - 30, To: day(end) - 1, Loc: loc})
			return err
		}},
		{"Funnel7Days", func() error {
			_, err := es.Funnel(ctx, miniback.FunnelQuery{AppID: "wxbench", Steps: []string{"open", "view", "buy"}, From: from7, To: end, Within: time.Hour})
			return err
		}},
		{"Funnel90Days", func() error {
			_, err := es.Funnel(ctx, miniback.FunnelQuery{AppID: "wxbench", Steps: []string{"open", "view", "buy"}, From: from90, To: end, Within: time.Hour})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(fmt.Errorf("%s: %w", c.name, err))
				}
			}
			// On a shared machine wall time depends on the other load; the
			// CPU time this process spent per query does less.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu_ms/op")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAddEvents is the writer's side of BenchmarkIngestEvents
// (cmd/miniback) without HTTP and the queue: commits of 64 batches of 20
// events from 5,000 devices, one op per event. Run it with -cpuprofile
// to see where a written event's CPU goes.
func BenchmarkAddEvents(b *testing.B) {
	db := sqlite.NewDB(filepath.Join(b.TempDir(), "add.db"))
	ctx := context.Background()
	if err := db.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	es := sqlite.NewEventStore(db)
	loc := time.FixedZone("CST", 8*3600)
	now := time.Now().UnixMilli()
	const perBatch, perCommit = 20, 64
	b.ReportAllocs()
	cpu0 := cpuTime()
	seq := 0
	for i := 0; i < b.N; i += perBatch * perCommit {
		batches := make([]miniback.EventBatch, perCommit)
		for j := range batches {
			batches[j] = miniback.EventBatch{AppID: "wxbench", ID: strconv.Itoa(seq)}
			for k := range perBatch {
				batches[j].Events = append(batches[j].Events, miniback.Event{Name: "bench", TS: now,
					User: "d:d" + strconv.Itoa((seq*perBatch+k)%5000), Props: []byte(`{"n":1,"src":"ad"}`)})
			}
			seq++
		}
		if _, err := es.AddEvents(ctx, batches, loc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu_us/event")
}
