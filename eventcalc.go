package miniback

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The helpers in this file are the engine-independent halves of
// EventStore: every SQL engine reads rows with its own SQL and counts them
// with these, so the numbers cannot differ between engines.

// RollupKey names one rollup row: an event (or "" for any event) in one
// hour (Unix seconds) or day.
type RollupKey struct {
	AppID string
	Name  string
	Time  int64 // hour start in Unix seconds, or a Day
}

// RollupCount is what a batch adds to one rollup row: its events and the
// distinct actors among them (whether they are new to the row is for the
// store to find out).
type RollupCount struct {
	Events int64
	Users  []string
}

// FirstKey names the first day of an actor for an event ("" = any event).
type FirstKey struct {
	AppID, Name, User string
}

// Rollup gathers what a set of batches adds to the rollup tables, so that a
// store writes each rollup row once per transaction.
type Rollup struct {
	Hours map[RollupKey]*RollupCount
	Days  map[RollupKey]*RollupCount
	First map[FirstKey]Day
	Names map[[2]string]bool // {appid, name}

	seen map[KnownKey]bool
}

// NewRollup returns an empty Rollup.
func NewRollup() *Rollup {
	return &Rollup{Hours: map[RollupKey]*RollupCount{}, Days: map[RollupKey]*RollupCount{},
		First: map[FirstKey]Day{}, Names: map[[2]string]bool{}, seen: map[KnownKey]bool{}}
}

// Add counts e of appid, with days in loc.
func (r *Rollup) Add(appid string, e *Event, loc *time.Location) {
	t := time.UnixMilli(e.TS)
	hour := t.Unix() - t.Unix()%3600
	if t.Unix() < 0 && t.Unix()%3600 != 0 {
		hour -= 3600
	}
	day := DayOf(t, loc)
	r.Names[[2]string{appid, e.Name}] = true
	r.count(r.Hours, 'h', RollupKey{appid, e.Name, hour}, e.User)
	r.count(r.Days, 'd', RollupKey{appid, e.Name, int64(day)}, e.User)
	r.count(r.Days, 'd', RollupKey{appid, "", int64(day)}, e.User)
	r.first(FirstKey{appid, e.Name, e.User}, day)
	r.first(FirstKey{appid, "", e.User}, day)
}

func (r *Rollup) first(k FirstKey, day Day) {
	if d, ok := r.First[k]; !ok || day < d {
		r.First[k] = day
	}
}

func (r *Rollup) count(m map[RollupKey]*RollupCount, kind byte, k RollupKey, user string) {
	c := m[k]
	if c == nil {
		c = &RollupCount{}
		m[k] = c
	}
	c.Events++
	id := KnownKey{Kind: kind, AppID: k.AppID, Name: k.Name, User: user, Time: k.Time}
	if !r.seen[id] {
		r.seen[id] = true
		c.Users = append(c.Users, user)
	}
}

// FillSeries returns one point per bucket of q, taking counts from got
// (keyed by bucket start in Unix seconds) and zero elsewhere.
func FillSeries(q SeriesQuery, got map[int64]SeriesPoint) []SeriesPoint {
	var out []SeriesPoint
	for _, t := range Buckets(q) {
		p := got[t.Unix()]
		p.T = t
		out = append(out, p)
	}
	return out
}

// Buckets returns the starts of q's buckets: the hours, or the days in
// q.Loc, that overlap [q.From, q.To).
func Buckets(q SeriesQuery) []time.Time {
	var out []time.Time
	if q.Hourly {
		start := q.From.Truncate(time.Hour)
		for t := start; t.Before(q.To); t = t.Add(time.Hour) {
			out = append(out, t.In(q.Loc))
		}
		return out
	}
	last := DayOf(q.To.Add(-time.Millisecond), q.Loc)
	for d := DayOf(q.From, q.Loc); d <= last; d++ {
		out = append(out, d.Start(q.Loc))
	}
	return out
}

// BucketOf returns the start (Unix seconds) of the bucket of q holding ts.
func BucketOf(q SeriesQuery, ts int64) int64 {
	t := time.UnixMilli(ts)
	if q.Hourly {
		return t.Truncate(time.Hour).Unix()
	}
	return DayOf(t, q.Loc).Start(q.Loc).Unix()
}

// PropSeries splits raw events by one prop. Add every event of the query;
// Points returns the series of the top 20 values by count (ties by value),
// each with every bucket.
type PropSeries struct {
	q      SeriesQuery
	counts map[string]map[int64]*SeriesPoint
	users  map[string]bool
	totals map[string]int64
}

// MaxPropValues is how many values a split series keeps.
const MaxPropValues = 20

// NewPropSeries returns an empty split of q by q.Prop.
func NewPropSeries(q SeriesQuery) *PropSeries {
	return &PropSeries{q: q, counts: map[string]map[int64]*SeriesPoint{}, users: map[string]bool{}, totals: map[string]int64{}}
}

// Add counts one event; events without the prop count under "".
func (p *PropSeries) Add(ts int64, user string, props []byte) {
	v := PropString(props, p.q.Prop)
	b := BucketOf(p.q, ts)
	m := p.counts[v]
	if m == nil {
		m = map[int64]*SeriesPoint{}
		p.counts[v] = m
	}
	pt := m[b]
	if pt == nil {
		pt = &SeriesPoint{}
		m[b] = pt
	}
	pt.Count++
	p.totals[v]++
	if k := v + "\x00" + strconv.FormatInt(b, 10) + "\x00" + user; !p.users[k] {
		p.users[k] = true
		pt.Users++
	}
}

// Points returns the split series, value by value in order of total count.
func (p *PropSeries) Points() []SeriesPoint {
	values := make([]string, 0, len(p.totals))
	for v := range p.totals {
		values = append(values, v)
	}
	slices.SortFunc(values, func(a, b string) int {
		if p.totals[a] != p.totals[b] {
			if p.totals[a] > p.totals[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(values) > MaxPropValues {
		values = values[:MaxPropValues]
	}
	out := []SeriesPoint{}
	for _, v := range values {
		got := map[int64]SeriesPoint{}
		for b, pt := range p.counts[v] {
			got[b] = *pt
		}
		for _, pt := range FillSeries(p.q, got) {
			pt.Value = &v
			out = append(out, pt)
		}
	}
	return out
}

// PropString returns the value of key in a flat JSON object as text:
// strings as they are, numbers and booleans as written; "" when absent.
func PropString(props []byte, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(props, &m) != nil {
		return ""
	}
	raw, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// FunnelCounter counts a funnel from a query's events fed in time order.
// For each actor it keeps the latest time each step was reached through a
// valid chain: the latest start leaves the most room for the next step.
type FunnelCounter struct {
	q       FunnelQuery
	reached map[string][]int64 // actor → per step, the latest time reached (or -1)
	done    map[string]int     // actor → deepest step reached + 1
}

// NewFunnelCounter returns a counter for q.
func NewFunnelCounter(q FunnelQuery) *FunnelCounter {
	return &FunnelCounter{q: q, reached: map[string][]int64{}, done: map[string]int{}}
}

// Add takes one event; events must come in time order.
func (f *FunnelCounter) Add(user, name string, ts int64) {
	r := f.reached[user]
	if r == nil {
		r = make([]int64, len(f.q.Steps))
		for i := range r {
			r[i] = -1
		}
		f.reached[user] = r
	}
	within := f.q.Within.Milliseconds()
	// From the last step down, so that one event never completes two
	// steps of the same name.
	for i := len(f.q.Steps) - 1; i >= 0; i-- {
		if f.q.Steps[i] != name {
			continue
		}
		if i == 0 || (r[i-1] >= 0 && ts-r[i-1] <= within && r[i-1] <= ts) {
			r[i] = ts
			if i+1 > f.done[user] {
				f.done[user] = i + 1
			}
		}
	}
}

// Steps returns the users who reached each step and their conversion from
// the first.
func (f *FunnelCounter) Steps() []FunnelStep {
	out := make([]FunnelStep, len(f.q.Steps))
	for i, s := range f.q.Steps {
		out[i].Name = s
	}
	for _, depth := range f.done {
		for i := range depth {
			out[i].Users++
		}
	}
	for i := range out {
		if out[0].Users > 0 {
			out[i].Conversion = float64(out[i].Users) / float64(out[0].Users)
		}
	}
	return out
}

// ActiveCounter counts DAU, WAU and MAU from (day, actor) pairs covering
// the query's days and the 29 before them. Actors are numbered as they come
// so that the windows count in slices, not maps.
type ActiveCounter struct {
	q    ActiveQuery
	ids  map[string]int32
	days map[Day][]int32 // actors of each day, possibly repeated
}

// NewActiveCounter returns a counter for q.
func NewActiveCounter(q ActiveQuery) *ActiveCounter {
	return &ActiveCounter{q: q, ids: map[string]int32{}, days: map[Day][]int32{}}
}

// Add records that user was active on day d.
func (a *ActiveCounter) Add(d Day, user string) {
	id, ok := a.ids[user]
	if !ok {
		id = int32(len(a.ids))
		a.ids[user] = id
	}
	a.days[d] = append(a.days[d], id)
}

// Days returns one ActiveDay per day of the query. Each window slides one
// day at a time, counting for each actor the activity rows it holds, so the
// work is linear in the rows.
func (a *ActiveCounter) Days() []ActiveDay {
	out := make([]ActiveDay, 0, a.q.To-a.q.From+1)
	for d := a.q.From; d <= a.q.To; d++ {
		out = append(out, ActiveDay{Day: d.String()})
	}
	for _, n := range []Day{1, 7, 30} {
		in := make([]int32, len(a.ids))
		distinct := int64(0)
		for d := a.q.From - n + 1; d <= a.q.To; d++ {
			for _, u := range a.days[d] {
				if in[u]++; in[u] == 1 {
					distinct++
				}
			}
			// Day d-n leaves the window, if it was ever in it: before the
			// window has filled, it was not added.
			if d-n >= a.q.From-n+1 {
				for _, u := range a.days[d-n] {
					if in[u]--; in[u] == 0 {
						distinct--
					}
				}
			}
			if d >= a.q.From {
				x := &out[d-a.q.From]
				switch n {
				case 1:
					x.DAU = distinct
				case 7:
					x.WAU = distinct
				default:
					x.MAU = distinct
				}
			}
		}
	}
	return out
}

// MaxActiveGap caps the gaps of the active-users rollup: the days since an
// actor's previous active day, MaxActiveGap standing for that many or
// more, or for none before. The widest window (MAU) needs no more.
const MaxActiveGap = 30

// GapCounter counts DAU, WAU and MAU from the active-users rollup: for
// each day, the actors active that day by the gap since their previous
// active day. An actor active on day a after gap g is counted in the n-day
// window ending on day d (a <= d < a+n) exactly when a is its first active
// day in that window, that is when g >= n-(d-a). Actors whose activity the
// rollup does not hold (logins) are added with AddOther.
type GapCounter struct {
	q     ActiveQuery
	first Day
	// atLeast[i][t] is how many actors active on day first+i had a gap
	// of at least t (1..MaxActiveGap).
	atLeast [][MaxActiveGap + 1]int64
	extra   []ActiveDay // per query day, what AddOther added
}

// NewGapCounter returns a counter for q; its rows cover q.From-29..q.To.
func NewGapCounter(q ActiveQuery) *GapCounter {
	first := q.From - MaxActiveGap + 1
	return &GapCounter{q: q, first: first, atLeast: make([][MaxActiveGap + 1]int64, q.To-first+1),
		extra: make([]ActiveDay, q.To-q.From+1)}
}

// AddGap adds users actors active on day after gap days (1..MaxActiveGap).
func (c *GapCounter) AddGap(day Day, gap, users int64) {
	if day < c.first || day > c.q.To || gap < 1 {
		return
	}
	row := &c.atLeast[day-c.first]
	for t := int64(1); t <= min(gap, MaxActiveGap); t++ {
		row[t] += users
	}
}

// AddOther adds one actor's other active days (its logins) to its active
// days in the rollup (events: both within q.From-29..q.To, any order):
// each window then counts the actor if either set has a day in it.
func (c *GapCounter) AddOther(eventDays, otherDays []Day) {
	n := int(c.q.To - c.first + 1)
	ev, all := make([]bool, n), make([]bool, n)
	for _, d := range eventDays {
		if d >= c.first && d <= c.q.To {
			ev[d-c.first], all[d-c.first] = true, true
		}
	}
	for _, d := range otherDays {
		if d >= c.first && d <= c.q.To {
			all[d-c.first] = true
		}
	}
	lastEv, lastAll := Day(-1<<40), Day(-1<<40)
	for i := range n {
		d := c.first + Day(i)
		if ev[i] {
			lastEv = d
		}
		if all[i] {
			lastAll = d
		}
		if d < c.q.From {
			continue
		}
		x := &c.extra[d-c.q.From]
		for _, w := range [...]struct {
			n   Day
			out *int64
		}{{1, &x.DAU}, {7, &x.WAU}, {MaxActiveGap, &x.MAU}} {
			if lastAll > d-w.n && lastEv <= d-w.n {
				*w.out++
			}
		}
	}
}

// Days returns one ActiveDay per day of the query.
func (c *GapCounter) Days() []ActiveDay {
	out := make([]ActiveDay, 0, c.q.To-c.q.From+1)
	for d := c.q.From; d <= c.q.To; d++ {
		x := c.extra[d-c.q.From]
		x.Day = d.String()
		for _, w := range [...]struct {
			n   Day
			out *int64
		}{{1, &x.DAU}, {7, &x.WAU}, {MaxActiveGap, &x.MAU}} {
			for k := Day(0); k < w.n; k++ {
				*w.out += c.atLeast[d-k-c.first][w.n-k]
			}
		}
		out = append(out, x)
	}
	return out
}

// SortedKeys returns the keys of m in (AppID, Name, Time) order, each with
// its actors sorted: engines whose writers run concurrently (PostgreSQL,
// MySQL) lock rollup rows in this one order, so two commits never wait on
// each other in a cycle.
func SortedKeys(m map[RollupKey]*RollupCount) []RollupKey {
	keys := make([]RollupKey, 0, len(m))
	for k, c := range m {
		keys = append(keys, k)
		slices.Sort(c.Users)
	}
	slices.SortFunc(keys, func(a, b RollupKey) int {
		if c := strings.Compare(a.AppID, b.AppID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Time, b.Time)
	})
	return keys
}

// SortedFirst returns the keys of r.First in (AppID, Name, User) order.
func (r *Rollup) SortedFirst() []FirstKey {
	keys := make([]FirstKey, 0, len(r.First))
	for k := range r.First {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b FirstKey) int {
		if c := strings.Compare(a.AppID, b.AppID); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.User, b.User)
	})
	return keys
}

// SortedNames returns r.Names in order.
func (r *Rollup) SortedNames() [][2]string {
	out := make([][2]string, 0, len(r.Names))
	for k := range r.Names {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return out
}

// KnownKey names one rollup row for KnownRows: Kind 'n' an event name of
// an app, 'h' or 'd' an actor counted in an hour or day of an event
// (Time), 'f' an actor's first day of an event.
type KnownKey struct {
	Kind  byte
	AppID string
	Name  string
	User  string
	Time  int64
}

// KnownRows remembers rollup rows that a store has seen committed (an
// actor already counted in an hour or day, an actor's first day, an event
// name), so that later commits skip writing them again: most events come
// from actors already seen that day. The rows are never deleted, so a
// remembered row stays true; forgetting one only costs a write. It is safe
// for concurrent use.
//
// It keeps two generations of at most 1<<17 rows each (about 30 MiB
// together): when the current one is full it becomes the old one and the
// rows before it are forgotten, so memory stays bounded however many actors
// an app has, and the rows of the last hours stay known (one map of 1<<20
// rows held 80 MiB after 100,000 logins).
type KnownRows struct {
	mu       sync.Mutex
	cur, old map[KnownKey]int64
	max      int // rows per generation; 0 means knownRowsGeneration
}

// knownRowsGeneration is the rows of one KnownRows generation.
const knownRowsGeneration = 1 << 17

// Get returns the value remembered for key.
func (k *KnownRows) Get(key KnownKey) (int64, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.cur[key]; ok {
		return v, true
	}
	v, ok := k.old[key]
	return v, ok
}

// Commit remembers rows of a committed transaction.
func (k *KnownRows) Commit(rows map[KnownKey]int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	limit := k.max
	if limit <= 0 {
		limit = knownRowsGeneration
	}
	if k.cur == nil || len(k.cur)+len(rows) > limit {
		k.old, k.cur = k.cur, make(map[KnownKey]int64, len(rows))
	}
	for key, v := range rows {
		k.cur[key] = v
	}
}
