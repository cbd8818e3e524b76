package sandbox

import (
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Datacube endpoint names (POST /datacube/{name}).
const (
	cubeDailySummary      = "getweanalysisappiddailysummarytrend"
	cubeDailyVisitTrend   = "getweanalysisappiddailyvisittrend"
	cubeWeeklyVisitTrend  = "getweanalysisappidweeklyvisittrend"
	cubeMonthlyVisitTrend = "getweanalysisappidmonthlyvisittrend"
	cubeDailyRetain       = "getweanalysisappiddailyretaininfo"
	cubeWeeklyRetain      = "getweanalysisappidweeklyretaininfo"
	cubeMonthlyRetain     = "getweanalysisappidmonthlyretaininfo"
	cubeVisitPage         = "getweanalysisappidvisitpage"
	cubeUserPortrait      = "getweanalysisappiduserportrait"
	cubeVisitDistribution = "getweanalysisappidvisitdistribution"
)

// DatacubeCall is one datacube request the sandbox answered, with the
// errcode it answered (0 for figures).
type DatacubeCall struct {
	AppID   string `json:"appid"`
	Name    string `json:"name"`
	Begin   string `json:"begin_date"`
	End     string `json:"end_date"`
	ErrCode int    `json:"errcode"`
	Empty   bool   `json:"empty,omitempty"`
}

// datacubeState is what the sandbox remembers of the datacube: the calls
// answered and how many empty answers each endpoint still owes.
type datacubeState struct {
	calls []DatacubeCall
	empty map[string]int
}

func (s *Server) datacubeRoutes(handle func(string, handlerFunc)) {
	for _, name := range []string{cubeDailySummary, cubeDailyVisitTrend, cubeWeeklyVisitTrend, cubeMonthlyVisitTrend,
		cubeDailyRetain, cubeWeeklyRetain, cubeMonthlyRetain, cubeVisitPage, cubeUserPortrait, cubeVisitDistribution} {
		handle("/datacube/"+name, s.authed(http.MethodPost, func(w http.ResponseWriter, r *http.Request, a *appState) error {
			return s.handleDatacube(w, r, a, name)
		}))
	}
	handle("/sandbox/datacube/calls", s.handleControlDatacubeCalls)
	handle("/sandbox/datacube/empty", s.handleControlDatacubeEmpty)
}

// handleDatacube serves one datacube endpoint: the date rule of pay.md §2
// (61501 "date range error" otherwise), then deterministic figures for the
// app and dates, or empty lists while EmptyDatacube owes some.
func (s *Server) handleDatacube(w http.ResponseWriter, r *http.Request, a *appState, name string) error {
	var req struct {
		Begin string `json:"begin_date"`
		End   string `json:"end_date"`
	}
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	call := DatacubeCall{AppID: a.AppID, Name: name, Begin: req.Begin, End: req.End}
	if err := checkCubeDates(name, req.Begin, req.End, s.now()); err != nil {
		call.ErrCode = err.(*wxError).Code
		s.cube.calls = append(s.cube.calls, call)
		return err
	}
	if s.cube.empty[name] > 0 {
		s.cube.empty[name]--
		call.Empty = true
	}
	s.cube.calls = append(s.cube.calls, call)
	writeJSON(w, http.StatusOK, cubeFigures(a.AppID, name, req.Begin, req.End, call.Empty))
	return nil
}

// checkCubeDates applies the endpoint's date rule with now's Beijing day.
func checkCubeDates(name, begin, end string, now time.Time) error {
	bad := wxErr(61501, "date range error")
	b, err1 := time.ParseInLocation("20060102", begin, beijing)
	e, err2 := time.ParseInLocation("20060102", end, beijing)
	if err1 != nil || err2 != nil || e.Before(b) {
		return bad
	}
	y, m, d := now.In(beijing).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, beijing)
	yesterday := today.AddDate(0, 0, -1)
	if e.After(yesterday) {
		return bad // today's figures do not exist yet
	}
	days := int(e.Sub(b).Hours()/24 + 0.5)
	switch name {
	case cubeWeeklyVisitTrend, cubeWeeklyRetain:
		if b.Weekday() != time.Monday || days != 6 {
			return bad
		}
	case cubeMonthlyVisitTrend, cubeMonthlyRetain:
		if b.Day() != 1 || !e.Equal(b.AddDate(0, 1, -1)) || !e.Before(time.Date(y, m, 1, 0, 0, 0, 0, beijing)) {
			return bad
		}
	case cubeUserPortrait:
		// Only yesterday, the last 7 or the last 30 days, counted from today.
		if !e.Equal(yesterday) || (days != 0 && days != 6 && days != 29) {
			return bad
		}
	default:
		if days != 0 {
			return bad
		}
	}
	return nil
}

// cubeRand draws deterministic figures from the app, endpoint and dates.
type cubeRand struct{ h uint64 }

func newCubeRand(parts ...string) *cubeRand {
	f := fnv.New64a()
	f.Write([]byte(strings.Join(parts, "\x00")))
	return &cubeRand{h: f.Sum64()}
}

// n returns a number in [lo, hi).
func (c *cubeRand) n(lo, hi int) int {
	c.h ^= c.h << 13
	c.h ^= c.h >> 7
	c.h ^= c.h << 17
	return lo + int(c.h%uint64(hi-lo))
}

// f returns a float with two decimals in [lo, hi).
func (c *cubeRand) f(lo, hi int) float64 {
	return math.Round(float64(c.n(lo*100, hi*100))) / 100
}

type kv struct {
	Key   int `json:"key"`
	Value int `json:"value"`
}

// cubeFigures is the answer of name for begin..end, shaped as WeChat's.
func cubeFigures(appid, name, begin, end string, empty bool) any {
	rnd := newCubeRand(appid, name, begin, end)
	ref := begin
	switch name {
	case cubeWeeklyVisitTrend, cubeWeeklyRetain, cubeUserPortrait:
		ref = begin + "-" + end
	case cubeMonthlyVisitTrend, cubeMonthlyRetain:
		ref = begin[:6]
	}
	switch name {
	case cubeDailySummary:
		return listOf(empty, map[string]any{"ref_date": ref, "visit_total": rnd.n(1000, 100000), "share_pv": rnd.n(0, 500), "share_uv": rnd.n(0, 300)})
	case cubeDailyVisitTrend, cubeWeeklyVisitTrend, cubeMonthlyVisitTrend:
		uv := rnd.n(100, 5000)
		return listOf(empty, map[string]any{"ref_date": ref, "session_cnt": uv + rnd.n(0, 2000), "visit_pv": uv * 3, "visit_uv": uv,
			"visit_uv_new": rnd.n(0, uv), "stay_time_uv": rnd.f(10, 300), "stay_time_session": rnd.f(10, 200), "visit_depth": rnd.f(1, 6)})
	case cubeDailyRetain, cubeWeeklyRetain, cubeMonthlyRetain:
		keys := map[string][]int{cubeDailyRetain: {0, 1, 2, 3, 4, 5, 6, 7, 14, 30}, cubeWeeklyRetain: {0, 1, 2, 3, 4}, cubeMonthlyRetain: {0, 1}}[name]
		return map[string]any{"ref_date": ref, "visit_uv_new": retainList(rnd, keys, empty), "visit_uv": retainList(rnd, keys, empty)}
	case cubeVisitPage:
		var pages []map[string]any
		for i, p := range []string{"pages/index/index", "pages/detail/detail", "pages/cart/cart"} {
			pv := rnd.n(100, 1000) / (i + 1)
			pages = append(pages, map[string]any{"page_path": p, "page_visit_pv": pv, "page_visit_uv": pv / 2, "page_staytime_pv": rnd.f(1, 60),
				"entrypage_pv": pv / 3, "exitpage_pv": pv / 4, "page_share_pv": rnd.n(0, 50), "page_share_uv": rnd.n(0, 30)})
		}
		if empty {
			pages = []map[string]any{}
		}
		return map[string]any{"ref_date": ref, "list": pages}
	case cubeUserPortrait:
		return map[string]any{"ref_date": ref, "visit_uv_new": portrait(rnd, empty), "visit_uv": portrait(rnd, empty)}
	default: // visit distribution
		var list []map[string]any
		for _, index := range []string{"access_source_session_cnt", "access_staytime_info", "access_depth_info"} {
			var items []kv
			for k := 1; k <= 7; k++ {
				items = append(items, kv{Key: k, Value: rnd.n(0, 500)})
			}
			list = append(list, map[string]any{"index": index, "item_list": items})
		}
		if empty {
			list = []map[string]any{}
		}
		return map[string]any{"ref_date": ref, "list": list}
	}
}

func listOf(empty bool, item map[string]any) map[string]any {
	if empty {
		return map[string]any{"list": []any{}}
	}
	return map[string]any{"list": []any{item}}
}

func retainList(rnd *cubeRand, keys []int, empty bool) []kv {
	out := []kv{}
	if empty {
		return out
	}
	v := rnd.n(100, 1000)
	for _, k := range keys {
		out = append(out, kv{Key: k, Value: v})
		v = v * rnd.n(30, 90) / 100
	}
	return out
}

func portrait(rnd *cubeRand, empty bool) map[string]any {
	type item struct {
		ID    *int   `json:"id,omitempty"`
		Name  string `json:"name"`
		Value int    `json:"value"`
	}
	group := func(names ...string) []item {
		out := []item{}
		if empty {
			return out
		}
		for i, n := range names {
			id := i + 1
			out = append(out, item{ID: &id, Name: n, Value: rnd.n(0, 1000)})
		}
		return out
	}
	devices := group("iPhone", "HUAWEI", "Xiaomi")
	for i := range devices {
		devices[i].ID = nil // devices items carry no id on the real platform
	}
	return map[string]any{"province": group("广东省", "浙江省"), "city": group("深圳", "杭州"), "genders": group("男", "女"),
		"platforms": group("iPhone", "Android"), "devices": devices, "ages": group("18-24岁", "25-29岁", "30-39岁")}
}

// DatacubeCalls returns the datacube requests answered so far, in order.
// It is safe for concurrent use.
func (s *Server) DatacubeCalls() []DatacubeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DatacubeCall(nil), s.cube.calls...)
}

// EmptyDatacube makes the next count answers of the datacube endpoint name
// have empty lists, as WeChat answers before a day's figures are ready. It
// is safe for concurrent use.
func (s *Server) EmptyDatacube(name string, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cube.empty == nil {
		s.cube.empty = map[string]int{}
	}
	s.cube.empty[name] += count
}

func (s *Server) handleControlDatacubeCalls(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodGet); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": s.DatacubeCalls()})
	return nil
}

func (s *Server) handleControlDatacubeEmpty(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodPost); err != nil {
		return err
	}
	var req struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	if err := decodeControl(r, &req); err != nil {
		return err
	}
	if !strings.HasPrefix(req.Name, "getweanalysisappid") || req.Count < 1 {
		return ctlErr(http.StatusBadRequest, "name must be a datacube endpoint and count at least 1")
	}
	s.EmptyDatacube(req.Name, req.Count)
	writeJSON(w, http.StatusOK, map[string]string{"count": strconv.Itoa(req.Count)})
	return nil
}
