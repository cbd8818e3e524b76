package sandbox

import (
	"net/url"
	"reflect"
	"testing"
)

// TestDatacubeDateRules checks each endpoint's date rule on 2026-03-01
// (a Sunday; yesterday is Saturday 2026-02-28, the previous month February).
func TestDatacubeDateRules(t *testing.T) {
	e := newEnv(t)
	q := url.Values{"access_token": {e.token(app1, secret1)}}
	cases := []struct {
		name, api, begin, end string
		errcode               int
	}{
		{"daily yesterday", cubeDailyVisitTrend, "20260228", "20260228", 0},
		{"daily long ago", cubeDailySummary, "20250101", "20250101", 0},
		{"daily today", cubeDailyVisitTrend, "20260301", "20260301", 61501},
		{"daily two days", cubeVisitPage, "20260226", "20260227", 61501},
		{"daily bad format", cubeDailyRetain, "2026-02-27", "2026-02-27", 61501},
		{"week Monday to Sunday", cubeWeeklyVisitTrend, "20260216", "20260222", 0},
		{"week not a Monday", cubeWeeklyRetain, "20260217", "20260223", 61501},
		{"week not yet over", cubeWeeklyVisitTrend, "20260223", "20260301", 61501},
		{"month previous", cubeMonthlyVisitTrend, "20260201", "20260228", 0},
		{"month not whole", cubeMonthlyRetain, "20260201", "20260227", 61501},
		{"month current", cubeMonthlyRetain, "20260301", "20260331", 61501},
		{"portrait last 7", cubeUserPortrait, "20260222", "20260228", 0},
		{"portrait last 30", cubeUserPortrait, "20260130", "20260228", 0},
		{"portrait last 5", cubeUserPortrait, "20260224", "20260228", 61501},
		{"portrait not recent", cubeUserPortrait, "20260220", "20260220", 61501},
		{"end before begin", cubeDailySummary, "20260228", "20260227", 61501},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post("/datacube/"+tc.api, q, map[string]string{"begin_date": tc.begin, "end_date": tc.end})
			if r.errcode() != tc.errcode {
				t.Fatalf("errcode = %d, want %d (%s)", r.errcode(), tc.errcode, r.Body)
			}
		})
	}
}

// TestDatacubeFigures checks that figures are deterministic per app and
// date, shaped as WeChat's, and that empty answers can be asked for.
func TestDatacubeFigures(t *testing.T) {
	e := newEnv(t)
	q1 := url.Values{"access_token": {e.token(app1, secret1)}}
	q2 := url.Values{"access_token": {e.token(app2, secret2)}}
	day := map[string]string{"begin_date": "20260227", "end_date": "20260227"}
	a := e.post("/datacube/"+cubeDailyVisitTrend, q1, day)
	b := e.post("/datacube/"+cubeDailyVisitTrend, q1, day)
	c := e.post("/datacube/"+cubeDailyVisitTrend, q2, day)
	if !reflect.DeepEqual(a.M, b.M) || reflect.DeepEqual(a.M, c.M) {
		t.Fatalf("figures not deterministic per app: %s / %s / %s", a.Body, b.Body, c.Body)
	}
	item := a.M["list"].([]any)[0].(map[string]any)
	for _, k := range []string{"ref_date", "session_cnt", "visit_pv", "visit_uv", "visit_uv_new", "stay_time_uv", "stay_time_session", "visit_depth"} {
		if _, ok := item[k]; !ok {
			t.Fatalf("visit trend lacks %s: %s", k, a.Body)
		}
	}
	if item["ref_date"] != "20260227" {
		t.Fatalf("ref_date = %v", item["ref_date"])
	}
	w := e.post("/datacube/"+cubeWeeklyRetain, q1, map[string]string{"begin_date": "20260216", "end_date": "20260222"})
	if w.M["ref_date"] != "20260216-20260222" || len(w.M["visit_uv"].([]any)) != 5 {
		t.Fatalf("weekly retain = %s", w.Body)
	}
	if r := e.post("/sandbox/datacube/empty", nil, map[string]any{"name": cubeDailyVisitTrend, "count": 1}); r.Status != 200 {
		t.Fatalf("empty: %d %s", r.Status, r.Body)
	}
	empty := e.post("/datacube/"+cubeDailyVisitTrend, q1, day)
	if len(empty.M["list"].([]any)) != 0 {
		t.Fatalf("empty answer = %s", empty.Body)
	}
	if again := e.post("/datacube/"+cubeDailyVisitTrend, q1, day); !reflect.DeepEqual(again.M, a.M) {
		t.Fatalf("after the empty answer = %s", again.Body)
	}
	calls := e.s.DatacubeCalls()
	if len(calls) != 6 || !calls[4].Empty || calls[0] != (DatacubeCall{AppID: app1, Name: cubeDailyVisitTrend, Begin: "20260227", End: "20260227"}) {
		t.Fatalf("calls = %+v", calls)
	}
	if r := e.post("/datacube/"+cubeDailyVisitTrend, nil, day); r.errcode() != 41001 {
		t.Fatalf("without a token: %s", r.Body)
	}
}
