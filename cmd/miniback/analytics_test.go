package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/config"
)

// Days of the analytics tests, in the default analytics.timezone: the
// fixture's day 0 is five days before today, so every event is inside the
// ingest window of 7 days.
var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func day0() miniback.Day { return miniback.DayOf(time.Now(), shanghai) - 5 }

func localAt(day, h, m int) time.Time {
	return (day0() + miniback.Day(day)).Start(shanghai).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func dateOf(day int) string { return (day0() + miniback.Day(day)).String() }

func event(name string, t time.Time, props map[string]any) map[string]any {
	e := map[string]any{"name": name, "ts": t.UnixMilli()}
	if props != nil {
		e["props"] = props
	}
	return e
}

func withAnalytics(c *config.Config) {
	withAdmin(c)
	c.Analytics.Anonymous = true
}

type ingestAnswer struct {
	Accepted int `json:"accepted"`
	Rejected []struct {
		Index   int    `json:"index"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"rejected"`
}

// postEvents sends a batch with token (none for "") and key (none for "").
func (e *testEnv) postEvents(token, key string, events ...map[string]any) (int, []byte) {
	e.t.Helper()
	raw, _ := json.Marshal(map[string]any{"events": events})
	return e.postRaw("/api/v1/"+config.DemoAppID+"/events", token, key, string(raw))
}

func (e *testEnv) postRaw(path, token, key, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// query GETs an admin analytics route and decodes the answer.
func (e *testEnv) query(path string, out any) int {
	e.t.Helper()
	st, _ := e.do("GET", "/admin/v1/"+config.DemoAppID+"/analytics/"+path, adminKey, nil, out)
	return st
}

type seriesAnswer struct {
	Series []struct {
		T     time.Time `json:"t"`
		Value *string   `json:"value"`
		Count int64     `json:"count"`
		Users int64     `json:"users"`
	} `json:"series"`
}

// counts renders a series as "date count/users" (with the value when split).
func (s seriesAnswer) counts(layout string) []string {
	var out []string
	for _, p := range s.Series {
		v := ""
		if p.Value != nil {
			v = *p.Value + " "
		}
		out = append(out, fmt.Sprintf("%s%s %d/%d", v, p.T.In(shanghai).Format(layout), p.Count, p.Users))
	}
	return out
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s =\n%v\nwant\n%v", what, got, want)
	}
}

// ingestFixture sends the events of the analytics tests from three signed-in
// users and one anonymous device, and waits until they are written.
func ingestFixture(t *testing.T, e *testEnv) (u1 string) {
	t.Helper()
	tok1, tok2, tok3 := e.login("a1").AccessToken, e.login("a2").AccessToken, e.login("a3").AccessToken
	st, body := e.postEvents(tok1, "",
		event("open", localAt(0, 10, 0), nil),
		event("view", localAt(0, 10, 10), map[string]any{"src": "ad", "n": 3}),
		event("buy", localAt(0, 10, 20), map[string]any{"amount": 12.5, "vip": true}),
		event("open", localAt(0, 11, 0), nil),
		event("open", localAt(1, 9, 0), nil),
		event("open", localAt(3, 9, 0), nil),
		event("Bad-Name", localAt(0, 9, 0), nil),
		event("view", localAt(0, 9, 0), map[string]any{"nested": map[string]any{"a": 1}}),
	)
	var ans ingestAnswer
	if err := json.Unmarshal(body, &ans); err != nil || st != 202 || ans.Accepted != 6 || len(ans.Rejected) != 2 ||
		ans.Rejected[0].Index != 6 || ans.Rejected[1].Index != 7 || ans.Rejected[0].Code != "invalid_request" {
		t.Fatalf("ingest u1: %d %s", st, body)
	}
	for _, b := range []struct {
		token  string
		events []map[string]any
	}{
		{tok2, []map[string]any{event("open", localAt(0, 23, 30), nil), event("view", localAt(1, 0, 10), map[string]any{"src": "ad"})}},
		{tok3, []map[string]any{event("open", localAt(1, 8, 0), nil), event("buy", localAt(1, 8, 30), nil)}},
		{"", []map[string]any{{"name": "view", "ts": localAt(0, 12, 0).UnixMilli(), "device_id": "dev1", "props": map[string]any{"src": "share"}}}},
	} {
		if st, body := e.postEvents(b.token, "", b.events...); st != 202 || !strings.Contains(string(body), `"rejected":[]`) {
			t.Fatalf("ingest: %d %s", st, body)
		}
	}
	waitFor(t, func() bool {
		var s seriesAnswer
		e.query("events?name=view&from="+dateOf(0)+"&to="+dateOf(1), &s)
		var logins seriesAnswer
		e.query("events?name=login&from="+dateOf(5)+"&to="+dateOf(5), &logins)
		return len(s.Series) == 2 && s.Series[0].Count+s.Series[1].Count == 3 && e.openCount() == 6 &&
			len(logins.Series) == 1 && logins.Series[0].Count == 3
	})
	return tok1
}

func (e *testEnv) openCount() int64 {
	var s seriesAnswer
	e.query("events?name=open&from="+dateOf(0)+"&to="+dateOf(3), &s)
	var n int64
	for _, p := range s.Series {
		n += p.Count
	}
	return n
}

// TestAnalyticsOverHTTP counts events of several users back through every
// query with exact numbers.
func TestAnalyticsOverHTTP(t *testing.T) {
	e := startMain(t, withAnalytics)
	ingestFixture(t, e)
	d := func(i int) string { return localAt(i, 0, 0).Format("2006-01-02") }

	var s seriesAnswer
	e.query("events?name=open&from="+dateOf(0)+"&to="+dateOf(3), &s)
	wantEqual(t, "daily open", s.counts(time.DateOnly), []string{d(0) + " 3/2", d(1) + " 2/2", d(2) + " 0/0", d(3) + " 1/1"})
	s = seriesAnswer{}
	from, to := url.QueryEscape(localAt(0, 10, 0).Format(time.RFC3339)), url.QueryEscape(localAt(0, 13, 0).Format(time.RFC3339))
	e.query("events?name=view&group_by=hour&from="+from+"&to="+to, &s)
	wantEqual(t, "hourly view", s.counts("15:04"), []string{"10:00 1/1", "11:00 0/0", "12:00 1/1"})
	s = seriesAnswer{}
	e.query("events?name=view&prop=src&from="+dateOf(0)+"&to="+dateOf(1), &s)
	wantEqual(t, "view by src", s.counts(time.DateOnly), []string{"ad " + d(0) + " 1/1", "ad " + d(1) + " 1/1", "share " + d(0) + " 1/1", "share " + d(1) + " 0/0"})

	for within, want := range map[string]string{"1h": "open 3 1, view 2 0.667, buy 1 0.333", "30m": "open 3 1, view 1 0.333, buy 1 0.333"} {
		var f struct {
			Steps []struct {
				Name       string
				Users      int64
				Conversion float64
			}
		}
		e.query("funnel?steps=open,view,buy&within="+within+"&from="+dateOf(0)+"&to="+dateOf(4), &f)
		var parts []string
		for _, st := range f.Steps {
			parts = append(parts, fmt.Sprintf("%s %d %.3g", st.Name, st.Users, st.Conversion))
		}
		wantEqual(t, "funnel within "+within, strings.Join(parts, ", "), want)
	}

	var r struct{ Cohorts []miniback.Cohort }
	e.query("retention?from="+dateOf(0)+"&to="+dateOf(1), &r)
	// Today (day 5) the three users logged in: miniback's own "login" events.
	wantEqual(t, "retention", r.Cohorts, []miniback.Cohort{
		{Day: d(0), Users: 3, Retained: []int64{3, 2, 0, 1, 0, 2}},
		{Day: d(1), Users: 1, Retained: []int64{1, 0, 0, 0, 1}},
	})
	r.Cohorts = nil
	e.query("retention?event=login&from="+dateOf(5)+"&to="+dateOf(5), &r)
	wantEqual(t, "login retention", r.Cohorts, []miniback.Cohort{{Day: d(5), Users: 3, Retained: []int64{3}}})
	r.Cohorts = nil
	e.query("retention?event=open&from="+dateOf(0)+"&to="+dateOf(0), &r)
	wantEqual(t, "open retention", r.Cohorts, []miniback.Cohort{{Day: d(0), Users: 2, Retained: []int64{2, 1, 0, 1, 0, 0}}})

	var a struct{ Days []miniback.ActiveDay }
	e.query("active?from="+dateOf(0)+"&to="+dateOf(5), &a)
	wantEqual(t, "active", a.Days, []miniback.ActiveDay{
		{Day: d(0), DAU: 3, WAU: 3, MAU: 3},
		{Day: d(1), DAU: 3, WAU: 4, MAU: 4},
		{Day: d(2), DAU: 0, WAU: 4, MAU: 4},
		{Day: d(3), DAU: 1, WAU: 4, MAU: 4},
		{Day: d(4), DAU: 0, WAU: 4, MAU: 4},
		{Day: d(5), DAU: 3, WAU: 4, MAU: 4}, // today: the three logins
	})
}

// TestEventsIdempotencyKey retries one batch with its key: the same answer,
// nothing stored twice; the key with another body is a conflict.
func TestEventsIdempotencyKey(t *testing.T) {
	e := startMain(t, withAnalytics)
	tok := e.login("k1").AccessToken
	batch := []map[string]any{event("open", localAt(4, 10, 0), nil), event("BAD", localAt(4, 10, 0), nil), event("open", localAt(4, 11, 0), nil)}
	st1, first := e.postEvents(tok, "batch-0001", batch...)
	st2, second := e.postEvents(tok, "batch-0001", batch...)
	if st1 != 202 || st2 != 202 || string(first) != string(second) || !strings.Contains(string(first), `"accepted":2`) {
		t.Fatalf("first %d %s, retry %d %s", st1, first, st2, second)
	}
	var conflict errorAnswer
	st, body := e.postEvents(tok, "batch-0001", batch[:1]...)
	if json.Unmarshal(body, &conflict); st != 409 || conflict.Error.Code != "conflict" {
		t.Fatalf("other body: %d %s", st, body)
	}
	// Another user's same key is its own.
	if st, body := e.postEvents(e.login("k2").AccessToken, "batch-0001", batch[:1]...); st != 202 || !strings.Contains(string(body), `"accepted":1`) {
		t.Fatalf("other user: %d %s", st, body)
	}
	waitFor(t, func() bool {
		var s seriesAnswer
		e.query("events?name=open&from="+dateOf(4)+"&to="+dateOf(4), &s)
		return len(s.Series) == 1 && s.Series[0].Count == 3
	})
	time.Sleep(300 * time.Millisecond) // a duplicate write would land by now
	var s seriesAnswer
	e.query("events?name=open&from="+dateOf(4)+"&to="+dateOf(4), &s)
	if s.Series[0].Count != 3 || s.Series[0].Users != 2 {
		t.Fatalf("open = %+v, want 3 events of 2 users", s.Series)
	}
}

// TestEventsDailyCap refuses events beyond analytics.max_events_per_user_per_day.
func TestEventsDailyCap(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAnalytics(c); c.Analytics.MaxEventsPerUserPerDay = 3 })
	tok := e.login("c1").AccessToken
	var evs []map[string]any
	for i := range 5 {
		evs = append(evs, event("tap", localAt(4, 10, i), nil))
	}
	st, body := e.postEvents(tok, "", evs...)
	var ans ingestAnswer
	if json.Unmarshal(body, &ans); st != 202 || ans.Accepted != 3 || len(ans.Rejected) != 2 || ans.Rejected[0].Code != "rate_limited" || ans.Rejected[0].Index != 3 {
		t.Fatalf("over the cap: %d %s", st, body)
	}
	var er errorAnswer
	st, body = e.postEvents(tok, "", evs[0])
	if json.Unmarshal(body, &er); st != 429 || er.Error.Code != "rate_limited" {
		t.Fatalf("at the cap: %d %s", st, body)
	}
	// Another user has a cap of their own.
	if st, _ := e.postEvents(e.login("c2").AccessToken, "", evs[0]); st != 202 {
		t.Fatalf("other user: %d", st)
	}
}

// TestAnalyticsBadInput checks the refusals of the ingest and the queries,
// and that refused events store nothing.
func TestAnalyticsBadInput(t *testing.T) {
	e := startMain(t, withAdmin) // anonymous events off
	tok := e.login("b1").AccessToken
	now := time.Now()
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = event("tap", now, nil)
	}
	bigProps := map[string]any{}
	for i := range 33 {
		bigProps[fmt.Sprintf("k%d", i)] = i
	}
	whole := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token, anonymous off", "", `{"events":[{"name":"a","ts":1,"device_id":"d"}]}`, 401, "unauthorized"},
		{"over 100 events", tok, jsonText(map[string]any{"events": many}), 400, "invalid_request"},
		{"no events", tok, `{"events":[]}`, 400, "invalid_request"},
		{"over 64 KiB", tok, `{"events":[{"name":"a","ts":1,"props":{"s":"` + strings.Repeat("x", 70<<10) + `"}}]}`, 413, "payload_too_large"},
		{"not JSON", tok, `{"events":`, 400, "invalid_request"},
		{"unknown field", tok, `{"events":[],"x":1}`, 400, "invalid_request"},
	}
	for _, tc := range whole {
		st, body := e.postRaw("/api/v1/"+config.DemoAppID+"/events", tc.token, "", tc.body)
		var er errorAnswer
		if json.Unmarshal(body, &er); st != tc.status || er.Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, st, body, tc.status, tc.code)
		}
	}
	perEvent := []map[string]any{
		event("Upper", now, nil),
		event(strings.Repeat("a", 65), now, nil),
		event("old", now.Add(-8*24*time.Hour), nil),
		event("future", now.Add(2*time.Minute), nil),
		event("nested", now, map[string]any{"a": []int{1}}),
		event("nullprop", now, map[string]any{"a": nil}),
		event("long", now, map[string]any{"s": strings.Repeat("x", 257)}),
		event("many", now, bigProps),
		event("badkey", now, map[string]any{"Bad Key": 1}),
		{"name": "nots", "props": map[string]any{}},
		{"name": "extra", "ts": now.UnixMilli(), "color": "red"},
	}
	st, body := e.postEvents(tok, "", perEvent...)
	var ans ingestAnswer
	if json.Unmarshal(body, &ans); st != 202 || ans.Accepted != 0 || len(ans.Rejected) != len(perEvent) {
		t.Fatalf("per event: %d %s", st, body)
	}
	for i, r := range ans.Rejected {
		if r.Index != i || r.Code != "invalid_request" || r.Message == "" {
			t.Errorf("rejected[%d] = %+v", i, r)
		}
	}
	// A good event after them is stored; none of the refused names exist.
	if st, _ := e.postEvents(tok, "", event("good", now, nil)); st != 202 {
		t.Fatal(st)
	}
	waitFor(t, func() bool {
		var s seriesAnswer
		return e.query("events?name=good&from="+dateOf(5)+"&to="+dateOf(5), &s) == 200 && len(s.Series) == 1 && s.Series[0].Count == 1
	})
	queries := []string{
		"funnel?steps=good,old&from=" + dateOf(0) + "&to=" + dateOf(5),  // old was refused: not an event name
		"funnel?steps=good,Nope&from=" + dateOf(0) + "&to=" + dateOf(5), // not a name at all
		"funnel?steps=good&from=" + dateOf(0) + "&to=" + dateOf(5),      // one step
		"funnel?steps=good,good&within=0s&from=" + dateOf(0) + "&to=" + dateOf(5),
		"events?name=good&from=2025-01-01&to=2026-02-10",          // over 400 days
		"events?name=good&from=" + dateOf(3) + "&to=" + dateOf(1), // backwards
		"events?name=good&from=yesterday&to=" + dateOf(1),
		"events?name=good&to=" + dateOf(1),
		"events?name=good&group_by=week&from=" + dateOf(0) + "&to=" + dateOf(1),
		"events?from=" + dateOf(0) + "&to=" + dateOf(1),
		"retention?event=nope&from=" + dateOf(0) + "&to=" + dateOf(1),
		"active?from=2024-01-01&to=2026-01-01",
		"wechat/visits?from=2026-11-01&to=2026-11-02", // unknown report
		"wechat/summary?period=week&from=2026-11-01&to=2026-11-02",
		"wechat/visit_trend?period=year&from=2026-11-01&to=2026-11-02",
	}
	for _, q := range queries {
		var er errorAnswer
		if st := e.query(q, &er); st != 400 || er.Error.Code != "invalid_request" {
			t.Errorf("%s: %d %+v", q, st, er)
		}
	}
	if st, _ := e.do("GET", "/admin/v1/"+config.DemoAppID+"/analytics/active?from="+dateOf(0)+"&to="+dateOf(1), "wrong-key-0123456789", nil, nil); st != 401 {
		t.Errorf("wrong admin key: %d", st)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDatacubeBackfill backfills ten days through the admin API from the
// embedded sandbox, which refuses any date its rules do not allow, and
// reads the rows back.
func TestDatacubeBackfill(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAdmin(c); c.Analytics.DatacubeAt = "off" })
	bj := time.FixedZone("CST", 8*3600)
	y := time.Now().In(bj).AddDate(0, 0, -1)
	from, to := y.AddDate(0, 0, -9).Format(time.DateOnly), y.Format(time.DateOnly)
	var job miniback.DatacubeJob
	st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/analytics/wechat/sync", adminKey, map[string]string{"from": from, "to": to}, &job)
	if st != 202 || job.ID == "" || job.Status != "running" || job.Calls < 10*5+2 {
		t.Fatalf("sync: %d %+v", st, job)
	}
	waitFor(t, func() bool {
		e.query("wechat/sync/"+job.ID, &job)
		return job.Status != "running"
	})
	if job.Status != "done" || job.Failed != 0 || job.Stored != job.Calls {
		t.Fatalf("job = %+v", job)
	}
	for _, c := range e.m.Sandbox.DatacubeCalls() {
		if c.ErrCode != 0 {
			t.Fatalf("a pull broke the date rules: %+v", c)
		}
	}
	if n := len(e.m.Sandbox.DatacubeCalls()); n != job.Calls {
		t.Fatalf("sandbox answered %d pulls, job planned %d", n, job.Calls)
	}
	rowsOf := func(q string) int {
		var out struct {
			Rows []struct {
				API   string          `json:"api"`
				Begin string          `json:"begin_date"`
				Data  json.RawMessage `json:"data"`
			} `json:"rows"`
		}
		if st := e.query("wechat/"+q+"&from="+from+"&to="+to, &out); st != 200 {
			t.Fatalf("%s: %d", q, st)
		}
		for _, r := range out.Rows {
			if len(r.Data) < 10 {
				t.Fatalf("%s: row without figures: %+v", q, r)
			}
		}
		return len(out.Rows)
	}
	for q, want := range map[string]int{"visit_trend?period=day": 10, "summary?x=": 10, "retain?period=day": 10, "visit_page?x=": 10,
		"visit_distribution?x=": 10, "user_portrait?x=": 2} {
		if got := rowsOf(q); got != want {
			t.Errorf("%s: %d rows, want %d", q, got, want)
		}
	}
	var er errorAnswer
	if st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/analytics/wechat/sync", adminKey,
		map[string]string{"from": from, "to": time.Now().In(bj).Format(time.DateOnly)}, &er); st != 400 {
		t.Fatalf("sync including today: %d %+v", st, er)
	}
	if st, _ := e.do("GET", "/admin/v1/"+config.DemoAppID+"/analytics/wechat/sync/nope", adminKey, nil, &er); st != 404 {
		t.Fatalf("unknown job: %d", st)
	}
}
