package analytics

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechat"
)

const (
	appA, secretA = "wxaaaaaaaaaaaaaaaa", "secret-a"
	appB, secretB = "wxbbbbbbbbbbbbbbbb", "secret-b"
)

// movingClock starts at start and runs at the speed of real time, so that
// retries come due while "today" stays the day under test.
func movingClock(start time.Time) func() time.Time {
	t0 := time.Now()
	return func() time.Time { return start.Add(time.Since(t0)) }
}

// jumpClock is a movingClock that a test can move forward.
type jumpClock struct {
	mu    sync.Mutex
	start time.Time
	t0    time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start.Add(time.Since(c.t0))
}

func (c *jumpClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start = c.start.Add(d)
}

type cubeEnv struct {
	sb    *sandbox.Server
	db    *sqlite.DB
	state miniback.StateStore
	url   string
	now   func() time.Time
}

func newCubeEnv(t *testing.T, now func() time.Time) *cubeEnv {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Apps: []sandbox.App{{AppID: appA, Secret: secretA}, {AppID: appB, Secret: secretB}}, Now: now})
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "m.db"))
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &cubeEnv{sb: sb, db: db, state: memory.New(), url: ts.URL, now: now}
}

// service returns a Service of one instance: its own WeChat clients, the
// shared database and state store.
func (e *cubeEnv) service() *Service {
	clients := map[string]Datacuber{
		appA: wechat.NewClient(appA, secretA, wechat.WithBaseURL(e.url), wechat.WithTokenStore(e.state), wechat.WithClock(e.now)),
		appB: wechat.NewClient(appB, secretB, wechat.WithBaseURL(e.url), wechat.WithTokenStore(e.state), wechat.WithClock(e.now)),
	}
	return New(Config{Now: e.now, DatacubeAt: 6 * time.Hour, Tick: 10 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 40 * time.Millisecond},
		sqlite.NewEventStore(e.db), sqlite.NewDatacubeStore(e.db), e.state, nil, clients)
}

func run(t *testing.T, services ...*Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() {
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met in time")
}

type call struct{ app, api, begin, end string }

func callsOf(sb *sandbox.Server) []call {
	var out []call
	for _, c := range sb.DatacubeCalls() {
		out = append(out, call{c.AppID, c.Name, c.Begin, c.End})
	}
	return out
}

// TestDailyPull runs two instances on Monday 2026-06-01 from 06:00 Beijing
// time: the day's pull runs once for the deployment, asks exactly for the
// endpoints and dates WeChat's rules allow that day (yesterday's daily
// reports, the three portraits, last week, last month), retries 61503 and an
// empty answer, and stores one row per pull.
func TestDailyPull(t *testing.T) {
	start := time.Date(2026, 6, 1, 6, 0, 0, 0, beijing)
	e := newCubeEnv(t, movingClock(start))
	if err := e.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeDailyVisitTrend, ErrCode: 61503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	e.sb.EmptyDatacube(wechat.DatacubeDailySummary, 1)
	a, b := e.service(), e.service()
	stop := run(t, a, b)

	var want []call
	for _, app := range []string{appA, appB} {
		want = append(want,
			call{app, wechat.DatacubeDailySummary, "20260531", "20260531"},
			call{app, wechat.DatacubeDailyVisitTrend, "20260531", "20260531"},
			call{app, wechat.DatacubeDailyRetain, "20260531", "20260531"},
			call{app, wechat.DatacubeVisitPage, "20260531", "20260531"},
			call{app, wechat.DatacubeVisitDistribution, "20260531", "20260531"},
			call{app, wechat.DatacubeUserPortrait, "20260531", "20260531"},
			call{app, wechat.DatacubeUserPortrait, "20260525", "20260531"},
			call{app, wechat.DatacubeUserPortrait, "20260502", "20260531"},
			call{app, wechat.DatacubeWeeklyVisitTrend, "20260525", "20260531"},
			call{app, wechat.DatacubeWeeklyRetain, "20260525", "20260531"},
			call{app, wechat.DatacubeMonthlyVisitTrend, "20260501", "20260531"},
			call{app, wechat.DatacubeMonthlyRetain, "20260501", "20260531"},
		)
	}
	store := sqlite.NewDatacubeStore(e.db)
	all := []string{wechat.DatacubeDailySummary, wechat.DatacubeDailyVisitTrend, wechat.DatacubeDailyRetain, wechat.DatacubeVisitPage,
		wechat.DatacubeVisitDistribution, wechat.DatacubeUserPortrait, wechat.DatacubeWeeklyVisitTrend, wechat.DatacubeWeeklyRetain,
		wechat.DatacubeMonthlyVisitTrend, wechat.DatacubeMonthlyRetain}
	waitUntil(t, func() bool {
		rows, err := store.DatacubeRows(context.Background(), appA, all, "20260101", "20261231")
		return err == nil && len(rows) == 12 && len(callsOf(e.sb)) >= 24+1 // +1: the retried empty answer
	})
	time.Sleep(100 * time.Millisecond) // any extra call or retry would show by now
	stop()

	got := callsOf(e.sb)
	// Retries repeat a call: compare the distinct calls, then the repeats.
	distinct := slices.Clone(got)
	slices.SortFunc(distinct, cmpCall)
	distinct = slices.Compact(distinct)
	slices.SortFunc(want, cmpCall)
	if !slices.Equal(distinct, want) {
		t.Fatalf("calls =\n%v\nwant\n%v", distinct, want)
	}
	repeats := map[call]int{}
	for _, c := range got {
		repeats[c]++
	}
	// 61503 twice (never reaching the sandbox's handler log) then figures;
	// one empty answer then figures; everything else once.
	if n := repeats[call{appA, wechat.DatacubeDailySummary, "20260531", "20260531"}] + repeats[call{appB, wechat.DatacubeDailySummary, "20260531", "20260531"}]; n != 3 {
		t.Fatalf("summary calls = %d, want 3 (one empty answer retried)", n)
	}
	if n := e.sb.Calls("/datacube/" + wechat.DatacubeDailyVisitTrend); n != 4 {
		t.Fatalf("visit trend requests = %d, want 4 (two 61503 retried)", n)
	}
	for _, c := range e.sb.DatacubeCalls() {
		if c.ErrCode != 0 {
			t.Fatalf("a pull broke the date rules: %+v", c)
		}
	}
	for _, app := range []string{appA, appB} {
		rows, err := store.DatacubeRows(context.Background(), app, all, "20260101", "20261231")
		if err != nil || len(rows) != 12 {
			t.Fatalf("%s rows = %d, %v", app, len(rows), err)
		}
		for _, r := range rows {
			if isEmptyAnswer(r.Data) {
				t.Fatalf("stored an empty answer that a retry replaced: %+v", r)
			}
		}
	}
}

func cmpCall(a, b call) int {
	for _, p := range [][2]string{{a.app, b.app}, {a.api, b.api}, {a.begin, b.begin}, {a.end, b.end}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// TestDailyPullWaitsAndGivesUpAtNoon checks that nothing is pulled before
// datacube_at, and that a report still not ready at noon is given up.
func TestDailyPullWaitsAndGivesUpAtNoon(t *testing.T) {
	clk := &jumpClock{start: time.Date(2026, 6, 2, 5, 0, 0, 0, beijing), t0: time.Now()}
	e := newCubeEnv(t, clk.Now)
	if err := e.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeDailyRetain, ErrCode: 61503, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	// 61501 says our dates are wrong: logged, never retried.
	if err := e.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeVisitPage, ErrCode: 61501, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	s := e.service()
	stop := run(t, s)
	time.Sleep(50 * time.Millisecond)
	if n := len(e.sb.DatacubeCalls()); n != 0 {
		t.Fatalf("%d pulls before 06:00", n)
	}
	clk.Jump(time.Hour)
	// Tuesday: 5 daily reports and 3 portraits per app; the retain report
	// keeps answering 61503 and is retried; visit page answers 61501.
	waitUntil(t, func() bool {
		return len(e.sb.DatacubeCalls()) == 2*6 && e.sb.Calls("/datacube/"+wechat.DatacubeDailyRetain) > 4
	})
	stop()
	if n := e.sb.Calls("/datacube/" + wechat.DatacubeVisitPage); n != 2 {
		t.Fatalf("visit page requests after 61501 = %d, want one per app", n)
	}
	// Noon: a new service whose clock is past noon retries nothing.
	e2 := newCubeEnv(t, movingClock(time.Date(2026, 6, 2, 11, 59, 59, 990_000_000, beijing)))
	if err := e2.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeDailyRetain, ErrCode: 61503, Count: 1000}); err != nil {
		t.Fatal(err)
	}
	stop2 := run(t, e2.service())
	waitUntil(t, func() bool { return len(e2.sb.DatacubeCalls()) == 2*7 })
	time.Sleep(150 * time.Millisecond)
	stop2()
	if n := e2.sb.Calls("/datacube/" + wechat.DatacubeDailyRetain); n != 2 {
		t.Fatalf("retain requests after noon = %d, want one per app", n)
	}
}

// TestRawEventsExpire checks that Run deletes raw events past
// retention.events and keeps the rollups.
func TestRawEventsExpire(t *testing.T) {
	now := time.Date(2026, 6, 2, 5, 0, 0, 0, beijing)
	e := newCubeEnv(t, movingClock(now))
	events := sqlite.NewEventStore(e.db)
	ctx := context.Background()
	old, recent := now.AddDate(0, 0, -100), now.AddDate(0, 0, -10)
	if _, err := events.AddEvents(ctx, []miniback.EventBatch{{AppID: appA, ID: "b1", Events: []miniback.Event{
		{Name: "open", TS: old.UnixMilli(), User: "u:1"}, {Name: "open", TS: recent.UnixMilli(), User: "u:1"},
	}}}, beijing); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Now: e.now, Tick: 10 * time.Millisecond, DatacubeOff: true, RetainEvents: 90 * 24 * time.Hour},
		events, sqlite.NewDatacubeStore(e.db), e.state, nil, nil)
	stop := run(t, s)
	users := func(from, to time.Time) int64 {
		f, err := events.Funnel(ctx, miniback.FunnelQuery{AppID: appA, Steps: []string{"open", "open"}, From: from, To: to, Within: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return f[0].Users
	}
	// The raw event of 100 days ago goes; the one of 10 days ago stays.
	waitUntil(t, func() bool { return users(old.Add(-time.Hour), old.Add(time.Hour)) == 0 })
	stop()
	if n := users(recent.Add(-time.Hour), now); n != 1 {
		t.Fatalf("recent raw event gone: %d users", n)
	}
	series, err := events.Series(ctx, miniback.SeriesQuery{AppID: appA, Name: "open", From: old.Add(-time.Hour), To: old.Add(time.Hour), Hourly: true, Loc: beijing})
	if err != nil || series[1].Count != 1 {
		t.Fatalf("rollup of the old event = %+v, %v", series, err)
	}
}

// serviceWith is service with its own state store (nil: the shared one)
// and configuration changes.
func (e *cubeEnv) serviceWith(state miniback.StateStore, tune func(*Config)) *Service {
	if state == nil {
		state = e.state
	}
	s := e.service()
	s.state = state
	tune(&s.cfg)
	s.log = s.cfg.Logger
	return s
}

// A backfill interrupted by a shutdown stays running and the next
// instance resumes it to the end; a job whose lease another live
// instance holds is left to that instance.
func TestSyncJobResumed(t *testing.T) {
	e := newCubeEnv(t, movingClock(time.Date(2026, 6, 2, 5, 0, 0, 0, beijing)))
	ctx := context.Background()
	store := sqlite.NewDatacubeStore(e.db)
	if err := e.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeDailyRetain, ErrCode: 61503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	// A retries the 61503 in an hour: it is still at work when it stops.
	a := e.serviceWith(nil, func(c *Config) { c.RetryBase, c.RetryMax = time.Hour, time.Hour })
	stopA := run(t, a)
	job, err := a.StartSync(ctx, appA, []byte(`{"from":"2026-05-20","to":"2026-05-20"}`))
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		return len(e.sb.DatacubeCalls()) == 4 && e.sb.Calls("/datacube/"+wechat.DatacubeDailyRetain) == 1
	})
	stopA()
	got, err := store.DatacubeJob(ctx, appA, job.ID)
	if err != nil || got.Status != miniback.JobRunning {
		t.Fatalf("job after shutdown = %+v, %v; want still running", got, err)
	}

	// Another live instance's job: its lease is held.
	other := &miniback.DatacubeJob{ID: "sync_other", AppID: appA, From: "2026-05-10", To: "2026-05-10", Status: miniback.JobRunning, Calls: 5, CreatedAt: e.now()}
	if err := store.CreateDatacubeJob(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := e.state.Set(ctx, syncLease(other.ID), "alive", time.Hour); err != nil {
		t.Fatal(err)
	}

	stopB := run(t, e.service())
	waitUntil(t, func() bool {
		got, err = store.DatacubeJob(ctx, appA, job.ID)
		return err == nil && got.Status == miniback.JobDone
	})
	stopB()
	if got.Calls != 5 || got.Stored != 5 || got.Failed != 0 || got.FinishedAt.IsZero() {
		t.Fatalf("resumed job = %+v; want 5 calls, all stored", got)
	}
	if o, err := store.DatacubeJob(ctx, appA, other.ID); err != nil || o.Status != miniback.JobRunning {
		t.Fatalf("the other instance's job = %+v, %v; want left running", o, err)
	}
	for _, c := range callsOf(e.sb) {
		if c.begin == "20260510" {
			t.Fatalf("pulled for the other instance's job: %+v", c)
		}
	}
}

// deadState is a state store that an instance can lose: once dead, every
// call fails, as for an instance cut off or frozen.
type deadState struct {
	miniback.StateStore
	dead atomic.Bool
}

var errDead = errors.New("instance unreachable")

func (d *deadState) SetIfEqual(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if d.dead.Load() {
		return false, errDead
	}
	return d.StateStore.SetIfEqual(ctx, key, old, value, ttl)
}

func (d *deadState) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if d.dead.Load() {
		return false, errDead
	}
	return d.StateStore.SetNX(ctx, key, value, ttl)
}

func (d *deadState) Get(ctx context.Context, key string) (string, bool, error) {
	if d.dead.Load() {
		return "", false, errDead
	}
	return d.StateStore.Get(ctx, key)
}

// An instance lost during the morning's pull stops renewing its lease:
// another instance pulls the day once the lease has lapsed, instead of
// leaving it to a backfill.
func TestDailyPullTakenOverFromLostInstance(t *testing.T) {
	e := newCubeEnv(t, movingClock(time.Date(2026, 6, 2, 6, 0, 0, 0, beijing)))
	if err := e.sb.InjectFault(sandbox.Fault{Path: "/datacube/" + wechat.DatacubeDailyRetain, ErrCode: 61503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	lost := &deadState{StateStore: e.state}
	a := e.serviceWith(lost, func(c *Config) { c.RetryBase, c.RetryMax, c.Lease = time.Hour, time.Hour, 60*time.Millisecond })
	run(t, a)
	// Tuesday: 5 daily reports and 3 portraits per app; A gets 61503 for
	// retain and would retry in an hour.
	waitUntil(t, func() bool {
		return len(e.sb.DatacubeCalls()) == 2*7 && e.sb.Calls("/datacube/"+wechat.DatacubeDailyRetain) == 2
	})
	lost.dead.Store(true)
	b := e.serviceWith(nil, func(c *Config) { c.Lease = 60 * time.Millisecond })
	run(t, b)
	store := sqlite.NewDatacubeStore(e.db)
	waitUntil(t, func() bool {
		for _, app := range []string{appA, appB} {
			rows, err := store.DatacubeRows(context.Background(), app, []string{wechat.DatacubeDailyRetain}, "20260601", "20260601")
			if err != nil || len(rows) != 1 {
				return false
			}
		}
		return true
	})
}
