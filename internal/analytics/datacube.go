package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/wechat"
)

// pull is one datacube call: an endpoint and its yyyymmdd dates.
type pull struct {
	api, begin, end string
}

func ymd(t time.Time) string { return t.Format("20060102") }

// midnight returns the start of t's Beijing day.
func midnight(t time.Time) time.Time {
	y, m, d := t.In(beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, beijing)
}

var dailyAPIs = []string{wechat.DatacubeDailySummary, wechat.DatacubeDailyVisitTrend, wechat.DatacubeDailyRetain,
	wechat.DatacubeVisitPage, wechat.DatacubeVisitDistribution}

// dailyPlan is what the job of Beijing day today pulls: yesterday's daily
// reports, the portraits of yesterday and the last 7 and 30 days, on
// Mondays the week just ended, and on the 1st the month just ended.
func dailyPlan(today time.Time) []pull {
	y := today.AddDate(0, 0, -1)
	var out []pull
	for _, api := range dailyAPIs {
		out = append(out, pull{api, ymd(y), ymd(y)})
	}
	for _, back := range []int{0, 6, 29} {
		out = append(out, pull{wechat.DatacubeUserPortrait, ymd(y.AddDate(0, 0, -back)), ymd(y)})
	}
	if today.Weekday() == time.Monday {
		for _, api := range []string{wechat.DatacubeWeeklyVisitTrend, wechat.DatacubeWeeklyRetain} {
			out = append(out, pull{api, ymd(today.AddDate(0, 0, -7)), ymd(y)})
		}
	}
	if today.Day() == 1 {
		for _, api := range []string{wechat.DatacubeMonthlyVisitTrend, wechat.DatacubeMonthlyRetain} {
			out = append(out, pull{api, ymd(today.AddDate(0, -1, 0)), ymd(y)})
		}
	}
	return out
}

// rangePlan is what a backfill of [from, to] (Beijing days, to ≤
// yesterday) pulls under WeChat's date rules: every daily report of every
// day, every whole Monday–Sunday week and whole month inside the range
// (months only before the current one), and the portraits whose window
// ends yesterday and fits in the range.
func rangePlan(from, to, today time.Time) []pull {
	var out []pull
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for _, api := range dailyAPIs {
			out = append(out, pull{api, ymd(d), ymd(d)})
		}
		if d.Weekday() == time.Monday && !d.AddDate(0, 0, 6).After(to) {
			for _, api := range []string{wechat.DatacubeWeeklyVisitTrend, wechat.DatacubeWeeklyRetain} {
				out = append(out, pull{api, ymd(d), ymd(d.AddDate(0, 0, 6))})
			}
		}
		if end := d.AddDate(0, 1, -1); d.Day() == 1 && !end.After(to) && end.Before(today.AddDate(0, 0, 1-today.Day())) {
			for _, api := range []string{wechat.DatacubeMonthlyVisitTrend, wechat.DatacubeMonthlyRetain} {
				out = append(out, pull{api, ymd(d), ymd(end)})
			}
		}
	}
	y := today.AddDate(0, 0, -1)
	if to.Equal(y) {
		for _, back := range []int{0, 6, 29} {
			if b := y.AddDate(0, 0, -back); !b.Before(from) {
				out = append(out, pull{wechat.DatacubeUserPortrait, ymd(b), ymd(y)})
			}
		}
	}
	return out
}

// maybeDailyPull starts the day's pull once per deployment: the first
// instance past datacube_at to take the day's key in the state store runs
// it. While it runs the key is a lease that the instance renews; once the
// pull is over the key says "done" for the rest of the day. An instance
// that dies during the pull stops renewing: the lease lapses and the next
// instance to tick (or this one, restarted) pulls the day again (a pull
// replaces its row, so what was stored before is only fetched anew).
func (s *Service) maybeDailyPull(ctx context.Context, now time.Time) {
	today := midnight(now)
	if now.Before(today.Add(s.cfg.DatacubeAt)) || len(s.wechat) == 0 {
		return
	}
	key := "analytics:datacube:" + ymd(today)
	owner := "running " + randomID()
	ok, err := s.state.SetNX(ctx, key, owner, s.cfg.Lease)
	if err != nil {
		s.log.Warn("analytics: datacube lock", "err", err)
		return
	}
	if !ok {
		return
	}
	noon := today.Add(12 * time.Hour)
	var items []*attempt
	for _, appid := range s.appIDs() {
		for _, p := range dailyPlan(today) {
			items = append(items, &attempt{appid: appid, p: p})
		}
	}
	s.jobs.Go(func() {
		stop := s.keepLease(ctx, key, owner)
		stored, failed := s.pullAll(ctx, items, func(next time.Time, _ int) bool { return next.Before(noon) })
		stop()
		bg := context.WithoutCancel(ctx)
		if ctx.Err() != nil {
			// Shut down mid-pull: the next instance takes the day over.
			_, _ = s.state.DeleteIfEqual(bg, key, owner)
			s.log.Info("analytics: datacube daily pull interrupted", "day", ymd(today), "stored", stored, "failed", failed)
			return
		}
		if _, err := s.state.SetIfEqual(bg, key, owner, "done", 36*time.Hour); err != nil {
			s.log.Warn("analytics: datacube lock", "err", err)
		}
		s.log.Info("analytics: datacube daily pull", "day", ymd(today), "stored", stored, "failed", failed)
	})
}

// keepLease renews key (holding owner) every third of Lease until the
// returned function is called, which waits for the renewing to end. A
// lease found taken over is no longer renewed.
func (s *Service) keepLease(ctx context.Context, key, owner string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := s.state.SetIfEqual(ctx, key, owner, owner, s.cfg.Lease)
				if err != nil {
					s.log.Warn("analytics: renew lease", "key", key, "err", err)
				} else if !ok {
					s.log.Warn("analytics: lease taken over by another instance", "key", key)
					return
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (s *Service) appIDs() []string {
	var ids []string
	for id := range s.wechat {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// attempt is a pull for one app with its retry state.
type attempt struct {
	appid string
	p     pull
	n     int
	next  time.Time
}

// pullAll makes every pull, retrying those WeChat has not got ready
// (61503, empty answers) or that failed in a way that may pass, with
// back-off, while retry(next attempt, attempts so far) allows. An empty
// answer on the last try is stored as it is: quiet days are empty.
func (s *Service) pullAll(ctx context.Context, items []*attempt, retry func(time.Time, int) bool) (stored, failed int) {
	for len(items) > 0 && ctx.Err() == nil {
		now := s.cfg.Now()
		var later []*attempt
		for _, a := range items {
			if a.next.After(now) {
				later = append(later, a)
				continue
			}
			a.n++
			delay := min(s.cfg.RetryBase<<min(a.n-1, 20), s.cfg.RetryMax)
			a.next = s.cfg.Now().Add(delay)
			switch s.pullOnce(ctx, a, retry(a.next, a.n)) {
			case pullStored:
				stored++
			case pullRetry:
				later = append(later, a)
			default:
				failed++
			}
		}
		items = later
		if len(items) > 0 {
			now := s.cfg.Now()
			wait := items[0].next.Sub(now)
			for _, a := range items[1:] {
				wait = min(wait, a.next.Sub(now))
			}
			sleep(ctx, max(wait, time.Millisecond))
		}
	}
	return stored, failed
}

type pullResult int

const (
	pullStored pullResult = iota
	pullRetry
	pullFailed
)

// pullOnce calls WeChat for a and stores the answer.
func (s *Service) pullOnce(ctx context.Context, a *attempt, mayRetry bool) pullResult {
	log := s.log.With("appid", a.appid, "api", a.p.api, "begin", a.p.begin, "end", a.p.end, "attempt", a.n)
	data, err := s.wechat[a.appid].Datacube(ctx, a.p.api, a.p.begin, a.p.end)
	var we *wechat.Error
	switch {
	case err == nil:
	case errors.As(err, &we) && we.Code == wechat.ErrDatacubeDateRange:
		log.Error("analytics: datacube refused the dates (a bug in the date rules)", "err", err)
		return pullFailed
	case (errors.As(err, &we) && we.Code == wechat.ErrDatacubeNotReady) || wechat.IsRetryable(err):
		if mayRetry {
			log.Info("analytics: datacube not ready; retrying", "err", err)
			return pullRetry
		}
		log.Warn("analytics: datacube pull gave up", "err", err)
		return pullFailed
	default:
		log.Warn("analytics: datacube pull failed", "err", err)
		return pullFailed
	}
	if isEmptyAnswer(data) && mayRetry {
		log.Info("analytics: datacube answered empty; retrying")
		return pullRetry
	}
	row := &miniback.DatacubeRow{AppID: a.appid, API: a.p.api, Begin: a.p.begin, End: a.p.end, Data: data, FetchedAt: s.cfg.Now()}
	if err := s.cube.PutDatacubeRow(ctx, row); err != nil {
		log.Error("analytics: store datacube row", "err", err)
		return pullFailed
	}
	return pullStored
}

// isEmptyAnswer reports whether every list in the answer is empty, as
// WeChat answers for a day whose figures are not ready (or had no visits).
func isEmptyAnswer(data []byte) bool {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	return countItems(v) == 0
}

func countItems(v any) int {
	n := 0
	switch x := v.(type) {
	case []any:
		n += len(x)
	case map[string]any:
		for _, e := range x {
			n += countItems(e)
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// StartSync starts a backfill of appid's datacube rows over body's
// {"from","to"} (dates, to at most yesterday in Beijing, at most 400 days)
// and returns the job; it runs off the request. Errors: invalid_request.
func (s *Service) StartSync(ctx context.Context, appid string, body []byte) (*miniback.DatacubeJob, error) {
	var req struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := strictDecode(body, &req); err != nil {
		return nil, err
	}
	from, err1 := time.ParseInLocation(time.DateOnly, req.From, beijing)
	to, err2 := time.ParseInLocation(time.DateOnly, req.To, beijing)
	if err1 != nil || err2 != nil {
		return nil, invalid("from and to must be dates such as 2026-11-01")
	}
	today := midnight(s.cfg.Now())
	switch {
	case to.Before(from):
		return nil, invalid("to must not come before from")
	case !to.Before(today):
		return nil, invalid("to must be yesterday (Beijing time) or earlier: WeChat has no figures for today")
	case to.Sub(from) >= miniback.MaxQueryDays*24*time.Hour:
		return nil, invalid("the range may span at most %d days", miniback.MaxQueryDays)
	}
	client := s.wechat[appid]
	if client == nil {
		return nil, miniback.Errorf(miniback.ECodeAppNotFound, "no such app")
	}
	plan := rangePlan(from, to, today)
	job := &miniback.DatacubeJob{ID: "sync_" + randomID()[:20], AppID: appid, From: req.From, To: req.To,
		Status: miniback.JobRunning, Calls: len(plan), CreatedAt: s.cfg.Now()}
	if err := s.cube.CreateDatacubeJob(ctx, job); err != nil {
		return nil, err
	}
	if bg := s.background(); bg != nil {
		s.startJob(bg, job)
	} // else Run's first tick starts it (resumeJobs)
	return job, nil
}

// syncLease is the state-store key of the lease of a running backfill.
func syncLease(id string) string { return "analytics:sync:" + id }

// startJob runs job off the request if it can take the job's lease (a
// job whose lease another instance holds is that instance's to run). The
// lease is renewed while the job runs; a job whose instance dies or shuts
// down stays running without a lease, and resumeJobs starts it again.
func (s *Service) startJob(bg context.Context, job *miniback.DatacubeJob) {
	owner := randomID()
	ok, err := s.state.SetNX(bg, syncLease(job.ID), owner, s.cfg.Lease)
	if err != nil {
		s.log.Warn("analytics: sync job lease", "job", job.ID, "err", err)
		return
	}
	if !ok {
		return
	}
	from, err1 := time.ParseInLocation(time.DateOnly, job.From, beijing)
	to, err2 := time.ParseInLocation(time.DateOnly, job.To, beijing)
	done := *job
	if err := errors.Join(err1, err2); err != nil {
		done.Status, done.Error, done.FinishedAt = miniback.JobFailed, "bad dates: "+err.Error(), s.cfg.Now()
		s.finishJob(bg, &done, owner)
		return
	}
	plan := rangePlan(from, to, midnight(s.cfg.Now()))
	items := make([]*attempt, len(plan))
	for i, p := range plan {
		items[i] = &attempt{appid: job.AppID, p: p}
	}
	done.Calls = len(plan)
	s.jobs.Go(func() {
		stop := s.keepLease(bg, syncLease(job.ID), owner)
		done.Stored, done.Failed = s.pullAll(bg, items, func(_ time.Time, n int) bool { return n < 4 })
		stop()
		if bg.Err() != nil {
			// Shut down: leave the job running for the next instance.
			_, _ = s.state.DeleteIfEqual(context.WithoutCancel(bg), syncLease(job.ID), owner)
			s.log.Info("analytics: sync job interrupted; the next instance resumes it", "job", job.ID)
			return
		}
		done.Status, done.FinishedAt = miniback.JobDone, s.cfg.Now()
		s.finishJob(bg, &done, owner)
	})
}

func (s *Service) finishJob(bg context.Context, job *miniback.DatacubeJob, owner string) {
	ctx := context.WithoutCancel(bg)
	if err := s.cube.UpdateDatacubeJob(ctx, job); err != nil {
		s.log.Error("analytics: finish sync job", "job", job.ID, "err", err)
	}
	_, _ = s.state.DeleteIfEqual(ctx, syncLease(job.ID), owner)
}

// resumeJobs starts again, from the beginning, the backfills left running
// by an instance that died or shut down (their lease has lapsed or was
// released): pulls replace their rows, so pulling a day twice is harmless.
func (s *Service) resumeJobs(ctx context.Context) {
	jobs, err := s.cube.RunningDatacubeJobs(ctx)
	if err != nil {
		s.log.Warn("analytics: running sync jobs", "err", err)
		return
	}
	for _, j := range jobs {
		if s.wechat[j.AppID] == nil {
			continue // an app this instance has no client for
		}
		if _, held, err := s.state.Get(ctx, syncLease(j.ID)); err != nil || held {
			continue
		}
		s.log.Info("analytics: resuming sync job", "job", j.ID, "appid", j.AppID)
		s.startJob(ctx, j)
	}
}

// SyncJob returns a backfill job, or an Error with code not_found.
func (s *Service) SyncJob(ctx context.Context, appid, id string) (*miniback.DatacubeJob, error) {
	return s.cube.DatacubeJob(ctx, appid, id)
}

// reportAPIs maps a report of GET …/analytics/wechat/{report} and its
// period to the endpoints whose rows it returns.
func reportAPIs(report, period string) ([]string, error) {
	periods := map[string]int{"": 0, "day": 0, "week": 1, "month": 2}
	i, ok := periods[period]
	if !ok {
		return nil, invalid("period must be day, week or month")
	}
	switch report {
	case "visit_trend":
		return []string{[]string{wechat.DatacubeDailyVisitTrend, wechat.DatacubeWeeklyVisitTrend, wechat.DatacubeMonthlyVisitTrend}[i]}, nil
	case "retain":
		return []string{[]string{wechat.DatacubeDailyRetain, wechat.DatacubeWeeklyRetain, wechat.DatacubeMonthlyRetain}[i]}, nil
	}
	if period != "" {
		return nil, invalid("period applies to visit_trend and retain only")
	}
	single := map[string]string{"summary": wechat.DatacubeDailySummary, "visit_page": wechat.DatacubeVisitPage,
		"user_portrait": wechat.DatacubeUserPortrait, "visit_distribution": wechat.DatacubeVisitDistribution}
	api, ok := single[report]
	if !ok {
		return nil, invalid("unknown report %q: summary, visit_trend, retain, visit_page, user_portrait or visit_distribution", report)
	}
	return []string{api}, nil
}

// Report answers GET …/analytics/wechat/{report}: the stored rows whose
// first date lies in from..to (dates).
func (s *Service) Report(ctx context.Context, appid, report string, p url.Values) (any, error) {
	apis, err := reportAPIs(report, p.Get("period"))
	if err != nil {
		return nil, err
	}
	from, to, err := parseRange(p, beijing)
	if err != nil {
		return nil, err
	}
	rows, err := s.cube.DatacubeRows(ctx, appid, apis, ymd(from), ymd(to.Add(-time.Millisecond)))
	if err != nil {
		return nil, err
	}
	return map[string]any{"report": report, "rows": rows}, nil
}
