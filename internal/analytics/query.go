package analytics

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback"
)

func invalid(format string, args ...any) error {
	return miniback.Errorf(miniback.ECodeInvalidRequest, format, args...)
}

// parseRange reads from and to: dates (whole days, to included) or RFC
// 3339 times (to excluded), in loc. Both are required; the span must be
// positive and at most 400 days.
func parseRange(p url.Values, loc *time.Location) (from, to time.Time, err error) {
	from, _, err = parseTime(p.Get("from"), "from", loc)
	if err != nil {
		return from, to, err
	}
	to, isDate, err := parseTime(p.Get("to"), "to", loc)
	if err != nil {
		return from, to, err
	}
	if isDate {
		to = to.AddDate(0, 0, 1)
	}
	if !to.After(from) {
		return from, to, invalid("to must come after from")
	}
	if to.Sub(from) > miniback.MaxQueryDays*24*time.Hour+time.Hour { // an hour of daylight saving slack
		return from, to, invalid("the range may span at most %d days", miniback.MaxQueryDays)
	}
	return from, to, nil
}

func parseTime(v, key string, loc *time.Location) (time.Time, bool, error) {
	if v == "" {
		return time.Time{}, false, invalid("%s is required (a date such as 2026-12-01 or an RFC 3339 time)", key)
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.In(loc), false, nil
	}
	return time.Time{}, false, invalid("%s must be a date such as 2026-12-01 or an RFC 3339 time", key)
}

// dayRange is parseRange as days of loc.
func dayRange(p url.Values, loc *time.Location) (miniback.Day, miniback.Day, error) {
	from, to, err := parseRange(p, loc)
	if err != nil {
		return 0, 0, err
	}
	return miniback.DayOf(from, loc), miniback.DayOf(to.Add(-time.Millisecond), loc), nil
}

func checkName(key, v string) error {
	if !validName(v) {
		return invalid("%s must be an event name: 1-64 of a-z, 0-9, '_' and '.'", key)
	}
	return nil
}

// Series answers GET …/analytics/events: name, from, to, group_by
// (hour or day), prop. Errors: invalid_request for bad parameters.
func (s *Service) Series(ctx context.Context, appid string, p url.Values) (any, error) {
	q := miniback.SeriesQuery{AppID: appid, Name: p.Get("name"), Prop: p.Get("prop"), Loc: s.cfg.Loc}
	if err := checkName("name", q.Name); err != nil {
		return nil, err
	}
	if q.Prop != "" {
		if err := checkName("prop", q.Prop); err != nil {
			return nil, err
		}
	}
	switch p.Get("group_by") {
	case "", "day":
	case "hour":
		q.Hourly = true
	default:
		return nil, invalid("group_by must be hour or day")
	}
	var err error
	if q.From, q.To, err = parseRange(p, s.cfg.Loc); err != nil {
		return nil, err
	}
	pts, err := s.events.Series(ctx, q)
	if err != nil {
		return nil, err
	}
	return map[string]any{"series": pts}, nil
}

// Funnel answers GET …/analytics/funnel: steps (2-10 event names the app
// has received), from, to, within (a duration such as 1h or 7d; default
// 1d, at most 90d).
func (s *Service) Funnel(ctx context.Context, appid string, p url.Values) (any, error) {
	q := miniback.FunnelQuery{AppID: appid, Within: 24 * time.Hour}
	q.Steps = strings.Split(p.Get("steps"), ",")
	if len(q.Steps) < 2 || len(q.Steps) > 10 {
		return nil, invalid("steps must list 2 to 10 event names, comma-separated")
	}
	for _, st := range q.Steps {
		if err := checkName("steps", st); err != nil {
			return nil, err
		}
	}
	if v := p.Get("within"); v != "" {
		d, err := parseWithin(v)
		if err != nil {
			return nil, err
		}
		q.Within = d
	}
	var err error
	if q.From, q.To, err = parseRange(p, s.cfg.Loc); err != nil {
		return nil, err
	}
	if err := s.knownNames(ctx, appid, q.Steps); err != nil {
		return nil, err
	}
	steps, err := s.events.Funnel(ctx, q)
	if err != nil {
		return nil, err
	}
	return map[string]any{"steps": steps}, nil
}

func parseWithin(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	}
	if err != nil || d <= 0 || d > 90*24*time.Hour {
		return 0, invalid("within must be a duration such as 30m, 1h or 7d, at most 90d")
	}
	return d, nil
}

// knownNames fails with invalid_request naming the first of names the app
// never received.
func (s *Service) knownNames(ctx context.Context, appid string, names []string) error {
	known, err := s.events.EventNames(ctx, appid, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		if !known[n] {
			return invalid("%q is not an event name of this app", n)
		}
	}
	return nil
}

// Retention answers GET …/analytics/retention: from, to (the cohort days)
// and event (the cohort and return event; any event when omitted). Days
// after today are left out of each cohort.
func (s *Service) Retention(ctx context.Context, appid string, p url.Values) (any, error) {
	q := miniback.RetentionQuery{AppID: appid, Event: p.Get("event")}
	if q.Event != "" {
		if err := checkName("event", q.Event); err != nil {
			return nil, err
		}
		if err := s.knownNames(ctx, appid, []string{q.Event}); err != nil {
			return nil, err
		}
	}
	var err error
	if q.From, q.To, err = dayRange(p, s.cfg.Loc); err != nil {
		return nil, err
	}
	cohorts, err := s.events.Retention(ctx, q)
	if err != nil {
		return nil, err
	}
	today := miniback.DayOf(s.cfg.Now(), s.cfg.Loc)
	for i := range cohorts {
		left := int(today-q.From) - i + 1 // days from the cohort's day to today, both included
		cohorts[i].Retained = cohorts[i].Retained[:max(0, min(left, len(cohorts[i].Retained)))]
	}
	return map[string]any{"cohorts": cohorts}, nil
}

// Active answers GET …/analytics/active: from, to.
func (s *Service) Active(ctx context.Context, appid string, p url.Values) (any, error) {
	q := miniback.ActiveQuery{AppID: appid, Loc: s.cfg.Loc}
	var err error
	if q.From, q.To, err = dayRange(p, s.cfg.Loc); err != nil {
		return nil, err
	}
	days, err := s.events.Active(ctx, q)
	if err != nil {
		return nil, err
	}
	return map[string]any{"days": days}, nil
}
