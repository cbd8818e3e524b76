package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// shanghai is the time zone of the event tests: days there start at 16:00 UTC.
var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// local returns 2026-11-21 + day at h:m in Shanghai.
func local(day, h, m int) time.Time {
	return time.Date(2026, 11, 21+day, h, m, 0, 0, shanghai)
}

func ev(user, name string, t time.Time, props string) miniback.Event {
	return miniback.Event{Name: name, TS: t.UnixMilli(), User: user, Page: "pages/index/index", Props: json.RawMessage(props)}
}

// eventFixture stores the events every event test counts: u1 opens, views
// and buys within 20 minutes on day 0 and comes back on days 1 and 3; u2
// opens at 23:30 on day 0 and views 40 minutes later, on day 1; u3 opens and
// buys on day 1; the anonymous device d:dev1 only views, on day 0. A fifth
// user logs in on day 1 without sending events.
type eventFixture struct {
	appid  string
	u1, u5 string
}

func addEventFixture(t *testing.T, st Stores) eventFixture {
	t.Helper()
	ctx := context.Background()
	appid := appID(t)
	user := mustUser(t, st.Users, appid, "o-u1")
	u1 := "u:" + strconv.FormatInt(user.ID, 10)
	five := mustUser(t, st.Users, appid, "o-u5")
	sess := &miniback.Session{ID: "s-" + randomHex(t, 12), AppID: appid, UserID: five.ID, SealedSessionKey: randomBytes(t, 48),
		CreatedAt: local(1, 18, 0), ExpiresAt: local(40, 0, 0)}
	if err := st.Sessions.CreateSession(ctx, sess, &miniback.RefreshToken{Hash: randomBytes(t, 32), SessionID: sess.ID, ExpiresAt: local(40, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	batches := []miniback.EventBatch{
		{AppID: appid, ID: "b1", Events: []miniback.Event{
			ev(u1, "open", local(0, 10, 0), `{}`),
			ev(u1, "view", local(0, 10, 10), `{"src":"ad","n":3}`),
			ev(u1, "buy", local(0, 10, 20), `{"amount":12.5,"vip":true}`),
			ev(u1, "open", local(0, 11, 0), ``),
		}},
		{AppID: appid, ID: "b2", Events: []miniback.Event{
			ev("u:9002", "open", local(0, 23, 30), `{}`),
			ev("u:9002", "view", local(1, 0, 10), `{"src":"ad"}`),
		}},
		{AppID: appid, ID: "b3", Events: []miniback.Event{
			ev("u:9003", "open", local(1, 8, 0), `{}`),
			ev("u:9003", "buy", local(1, 8, 30), `{}`),
			ev("d:dev1", "view", local(0, 12, 0), `{"src":"share"}`),
		}},
		{AppID: appid, ID: "b4", Events: []miniback.Event{
			ev(u1, "open", local(1, 9, 0), `{}`),
			ev(u1, "open", local(3, 9, 0), `{}`),
		}},
	}
	n, err := st.Events.AddEvents(ctx, batches, shanghai)
	if err != nil || n != 4 {
		t.Fatalf("AddEvents = %d, %v; want 4", n, err)
	}
	return eventFixture{appid: appid, u1: u1, u5: "u:" + strconv.FormatInt(five.ID, 10)}
}

type pt struct {
	T            string
	Value        string
	Count, Users int64
}

func points(ps []miniback.SeriesPoint) []pt {
	out := []pt{}
	for _, p := range ps {
		x := pt{T: p.T.Format(time.RFC3339), Count: p.Count, Users: p.Users}
		if p.Value != nil {
			x.Value = *p.Value
		}
		out = append(out, x)
	}
	return out
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s =\n%+v\nwant\n%+v", what, got, want)
	}
}

func testEventSeries(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	ctx := context.Background()
	got, err := st.Events.Series(ctx, miniback.SeriesQuery{AppID: f.appid, Name: "open", From: local(0, 0, 0), To: local(3, 0, 0), Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "daily open", points(got), []pt{
		{T: "2026-11-21T00:00:00+08:00", Count: 3, Users: 2},
		{T: "2026-11-22T00:00:00+08:00", Count: 2, Users: 2},
		{T: "2026-11-23T00:00:00+08:00"},
	})
	got, err = st.Events.Series(ctx, miniback.SeriesQuery{AppID: f.appid, Name: "view", From: local(0, 10, 0), To: local(0, 13, 0), Hourly: true, Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "hourly view", points(got), []pt{
		{T: "2026-11-21T10:00:00+08:00", Count: 1, Users: 1},
		{T: "2026-11-21T11:00:00+08:00"},
		{T: "2026-11-21T12:00:00+08:00", Count: 1, Users: 1},
	})
	got, err = st.Events.Series(ctx, miniback.SeriesQuery{AppID: f.appid, Name: "view", From: local(0, 0, 0), To: local(2, 0, 0), Prop: "src", Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "view by src", points(got), []pt{
		{T: "2026-11-21T00:00:00+08:00", Value: "ad", Count: 1, Users: 1},
		{T: "2026-11-22T00:00:00+08:00", Value: "ad", Count: 1, Users: 1},
		{T: "2026-11-21T00:00:00+08:00", Value: "share", Count: 1, Users: 1},
		{T: "2026-11-22T00:00:00+08:00", Value: "share"},
	})
	names, err := st.Events.EventNames(ctx, f.appid, []string{"open", "buy", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "names", names, map[string]bool{"open": true, "buy": true})
}

func testEventFunnel(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	for _, tc := range []struct {
		within time.Duration
		want   []int64
	}{{time.Hour, []int64{3, 2, 1}}, {30 * time.Minute, []int64{3, 1, 1}}} {
		got, err := st.Events.Funnel(context.Background(), miniback.FunnelQuery{AppID: f.appid, Steps: []string{"open", "view", "buy"},
			From: local(0, 0, 0), To: local(4, 0, 0), Within: tc.within})
		if err != nil {
			t.Fatal(err)
		}
		var users []int64
		for _, s := range got {
			users = append(users, s.Users)
		}
		same(t, fmt.Sprintf("funnel within %v", tc.within), users, tc.want)
		if got[0].Conversion != 1 || got[2].Conversion != 1.0/3 {
			t.Fatalf("conversions = %+v", got)
		}
	}
}

func testEventRetention(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	ret := func(event string) []miniback.Cohort {
		got, err := st.Events.Retention(context.Background(), miniback.RetentionQuery{AppID: f.appid, Event: event,
			From: miniback.DayOf(local(0, 0, 0), shanghai), To: miniback.DayOf(local(1, 0, 0), shanghai)})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	days := func(vals ...int64) []int64 {
		out := make([]int64, miniback.RetentionDays+1)
		copy(out, vals)
		return out
	}
	same(t, "any event", ret(""), []miniback.Cohort{
		{Day: "2026-11-21", Users: 3, Retained: days(3, 2, 0, 1)},
		{Day: "2026-11-22", Users: 1, Retained: days(1)},
	})
	same(t, "open", ret("open"), []miniback.Cohort{
		{Day: "2026-11-21", Users: 2, Retained: days(2, 1, 0, 1)},
		{Day: "2026-11-22", Users: 1, Retained: days(1)},
	})
}

func testEventActive(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	got, err := st.Events.Active(context.Background(), miniback.ActiveQuery{AppID: f.appid, Loc: shanghai,
		From: miniback.DayOf(local(0, 0, 0), shanghai), To: miniback.DayOf(local(3, 0, 0), shanghai)})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "active", got, []miniback.ActiveDay{
		{Day: "2026-11-21", DAU: 3, WAU: 3, MAU: 3},
		{Day: "2026-11-22", DAU: 4, WAU: 5, MAU: 5},
		{Day: "2026-11-23", DAU: 0, WAU: 5, MAU: 5},
		{Day: "2026-11-24", DAU: 1, WAU: 5, MAU: 5},
	})
}

// testAddEventsOnce checks that a batch stored before is skipped, alone or
// among new ones, and that its rollups do not count twice.
func testAddEventsOnce(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	ctx := context.Background()
	again := []miniback.EventBatch{
		{AppID: f.appid, ID: "b1", Events: []miniback.Event{ev(f.u1, "open", local(0, 10, 0), `{}`)}},
		{AppID: f.appid, ID: "b5", Events: []miniback.Event{ev("u:9005", "open", local(2, 10, 0), `{}`)}},
	}
	n, err := st.Events.AddEvents(ctx, again, shanghai)
	if err != nil || n != 1 {
		t.Fatalf("AddEvents = %d, %v; want 1", n, err)
	}
	// u1 again on day 0: one more event, no new user (a store may skip
	// rollup rows it knows are there).
	more := []miniback.EventBatch{{AppID: f.appid, ID: "b6", Events: []miniback.Event{ev(f.u1, "open", local(0, 12, 0), `{}`)}}}
	if n, err := st.Events.AddEvents(ctx, more, shanghai); err != nil || n != 1 {
		t.Fatalf("AddEvents = %d, %v; want 1", n, err)
	}
	got, err := st.Events.Series(ctx, miniback.SeriesQuery{AppID: f.appid, Name: "open", From: local(0, 0, 0), To: local(3, 0, 0), Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "daily open", points(got), []pt{
		{T: "2026-11-21T00:00:00+08:00", Count: 4, Users: 2},
		{T: "2026-11-22T00:00:00+08:00", Count: 2, Users: 2},
		{T: "2026-11-23T00:00:00+08:00", Count: 1, Users: 1},
	})
	// Another app's batch of the same id is its own.
	n, err = st.Events.AddEvents(ctx, []miniback.EventBatch{{AppID: f.appid + "x", ID: "b1", Events: again[0].Events}}, shanghai)
	if err != nil || n != 1 {
		t.Fatalf("AddEvents other app = %d, %v; want 1", n, err)
	}
}

// testDeleteEventsBefore checks that raw events go and rollups stay.
func testDeleteEventsBefore(t *testing.T, open OpenFunc) {
	st := open(t)
	f := addEventFixture(t, st)
	ctx := context.Background()
	n, err := st.Events.DeleteEventsBefore(ctx, local(1, 0, 0))
	if err != nil || n < 6 {
		t.Fatalf("DeleteEventsBefore = %d, %v; want at least the fixture's 6", n, err)
	}
	funnel, err := st.Events.Funnel(ctx, miniback.FunnelQuery{AppID: f.appid, Steps: []string{"open", "buy"}, From: local(0, 0, 0), To: local(4, 0, 0), Within: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if funnel[0].Users != 2 || funnel[1].Users != 1 { // u3 and u1's later opens are left
		t.Fatalf("funnel after delete = %+v", funnel)
	}
	got, err := st.Events.Series(ctx, miniback.SeriesQuery{AppID: f.appid, Name: "open", From: local(0, 0, 0), To: local(1, 0, 0), Loc: shanghai})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "rollup after delete", points(got), []pt{{T: "2026-11-21T00:00:00+08:00", Count: 3, Users: 2}})
}

func testDatacube(t *testing.T, open OpenFunc) {
	st := open(t)
	ctx := context.Background()
	appid := appID(t)
	put := func(api, begin, end, data string) {
		t.Helper()
		if err := st.Datacube.PutDatacubeRow(ctx, &miniback.DatacubeRow{AppID: appid, API: api, Begin: begin, End: end, Data: json.RawMessage(data), FetchedAt: at(0)}); err != nil {
			t.Fatal(err)
		}
	}
	put("daily", "20261120", "20261120", `{"list":[1]}`)
	put("daily", "20261121", "20261121", `{"list":[2]}`)
	put("daily", "20261120", "20261120", `{"list":[3]}`) // replaces the first
	put("weekly", "20261116", "20261122", `{"list":[4]}`)
	rows, err := st.Datacube.DatacubeRows(ctx, appid, []string{"daily"}, "20261120", "20261121")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.API+" "+r.Begin+" "+r.End+" "+string(r.Data))
		if !r.FetchedAt.Equal(ms(at(0))) {
			t.Fatalf("fetched_at = %v", r.FetchedAt)
		}
	}
	same(t, "rows", got, []string{`daily 20261120 20261120 {"list":[3]}`, `daily 20261121 20261121 {"list":[2]}`})
	rows, err = st.Datacube.DatacubeRows(ctx, appid, []string{"weekly", "daily"}, "20261116", "20261116")
	if err != nil || len(rows) != 1 || rows[0].API != "weekly" {
		t.Fatalf("weekly rows = %v, %v", rows, err)
	}

	j := &miniback.DatacubeJob{ID: "j-" + randomHex(t, 6), AppID: appid, From: "2026-11-01", To: "2026-11-20", Status: miniback.JobRunning, Calls: 40, CreatedAt: at(0)}
	if err := st.Datacube.CreateDatacubeJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	j.Status, j.Stored, j.Failed, j.Error, j.FinishedAt = miniback.JobDone, 39, 1, "one gave up", at(time.Minute)
	if err := st.Datacube.UpdateDatacubeJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	back, err := st.Datacube.DatacubeJob(ctx, appid, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	j.CreatedAt, j.FinishedAt = ms(j.CreatedAt), ms(j.FinishedAt)
	same(t, "job", *back, *j)
	running := &miniback.DatacubeJob{ID: "j-" + randomHex(t, 6), AppID: appid, From: "2026-11-01", To: "2026-11-02", Status: miniback.JobRunning, Calls: 4, CreatedAt: at(2 * time.Minute)}
	if err := st.Datacube.CreateDatacubeJob(ctx, running); err != nil {
		t.Fatal(err)
	}
	jobs, err := st.Datacube.RunningDatacubeJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine []miniback.DatacubeJob // the suite's database may hold other apps' jobs
	for _, r := range jobs {
		if r.AppID == appid {
			mine = append(mine, *r)
		}
	}
	running.CreatedAt = ms(running.CreatedAt)
	same(t, "running jobs", mine, []miniback.DatacubeJob{*running})
	_, err = st.Datacube.DatacubeJob(ctx, appid+"x", j.ID)
	wantCode(t, err, miniback.ECodeNotFound)
	err = st.Datacube.UpdateDatacubeJob(ctx, &miniback.DatacubeJob{ID: "nope", AppID: appid})
	wantCode(t, err, miniback.ECodeNotFound)
}
