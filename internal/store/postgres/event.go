package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.EventStore = (*EventStore)(nil)

// EventStore keeps events and their rollups in a DB. It is safe for
// concurrent use, also from several instances: rollup rows are locked in
// one order (miniback.SortedKeys), and a deadlock reruns the transaction.
type EventStore struct {
	db    *DB
	known miniback.KnownRows
}

// NewEventStore returns an EventStore on db, which must be open and migrated.
func NewEventStore(db *DB) *EventStore {
	return &EventStore{db: db}
}

// AddEvents implements miniback.EventStore.
func (s *EventStore) AddEvents(ctx context.Context, batches []miniback.EventBatch, loc *time.Location) (int, error) {
	n := 0
	var seen map[miniback.KnownKey]int64
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		n, seen = 0, map[miniback.KnownKey]int64{} // afresh when a deadlock reruns the transaction
		r := miniback.NewRollup()
		now := sqlrow.Millis(s.db.Now())
		insBatch, err := tx.PrepareContext(ctx, `INSERT INTO event_batches (appid, id, stored_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer insBatch.Close()
		for _, b := range batches {
			res, err := insBatch.ExecContext(ctx, b.AppID, b.ID, now)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				continue // stored by an earlier delivery
			}
			n++
			if err := insertEvents(ctx, tx, b); err != nil {
				return err
			}
			for i := range b.Events {
				r.Add(b.AppID, &b.Events[i], loc)
			}
		}
		return s.writeRollup(ctx, tx, r, now, seen)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: add events: %w", err)
	}
	s.known.Commit(seen)
	return n, nil
}

// insertEvents writes a batch's raw events with one statement, one round
// trip (a batch holds at most 100 events: 600 parameters).
func insertEvents(ctx context.Context, tx *sql.Tx, b miniback.EventBatch) error {
	if len(b.Events) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO events (appid, ts, name, user_key, page, props) VALUES `)
	args := make([]any, 0, 6*len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d)", 6*i+1, 6*i+2, 6*i+3, 6*i+4, 6*i+5, 6*i+6)
		args = append(args, b.AppID, e.TS, e.Name, e.User, e.Page, propsText(e.Props))
	}
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

func propsText(p []byte) string {
	if len(p) == 0 {
		return "{}"
	}
	return string(p)
}

// writeRollup adds r to the rollup tables: a users column grows by the
// actors that were new to its *_users table. Rows known to be committed
// already are skipped; seen collects the rows this transaction makes sure of.
func (s *EventStore) writeRollup(ctx context.Context, tx *sql.Tx, r *miniback.Rollup, now int64, seen map[miniback.KnownKey]int64) error {
	for _, k := range r.SortedNames() {
		key := miniback.KnownKey{Kind: 'n', AppID: k[0], Name: k[1]}
		if _, ok := s.known.Get(key); ok {
			continue
		}
		seen[key] = 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_names (appid, name, first_seen) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, k[0], k[1], now); err != nil {
			return err
		}
	}
	if err := s.writeCounts(ctx, tx, r.Hours, "event_hours", "event_hour_users", "hour", seen); err != nil {
		return err
	}
	if err := s.writeCounts(ctx, tx, r.Days, "event_days", "event_day_users", "day", seen); err != nil {
		return err
	}
	// One statement for every first day, in the sorted order (rows are
	// locked in one order across instances).
	var apps, names, users []string
	var days []int64
	for _, k := range r.SortedFirst() {
		d := int64(r.First[k])
		key := miniback.KnownKey{Kind: 'f', AppID: k.AppID, Name: k.Name, User: k.User}
		if old, ok := s.known.Get(key); ok && old <= d {
			continue // the stored first day is already this early
		}
		seen[key] = d
		apps, days, names, users = append(apps, k.AppID), append(days, d), append(names, k.Name), append(users, k.User)
	}
	if len(apps) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO event_first_days (appid, day, name, user_key)
		SELECT a, d, n, u FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) WITH ORDINALITY AS t(a, d, n, u, i) ORDER BY i
		ON CONFLICT (appid, name, user_key) DO UPDATE SET day = LEAST(event_first_days.day, excluded.day)`, apps, days, names, users)
	return err
}

func (s *EventStore) writeCounts(ctx context.Context, tx *sql.Tx, m map[miniback.RollupKey]*miniback.RollupCount, table, usersTable, col string, seen map[miniback.KnownKey]int64) error {
	// A key's new actors go in with one statement, in sorted order;
	// the rows it inserted are the actors the key had not counted.
	insUsers, err := tx.PrepareContext(ctx, `INSERT INTO `+usersTable+` (appid, `+col+`, name, user_key)
		SELECT $1, $2, $3, u FROM unnest($4::text[]) WITH ORDINALITY AS t(u, i) ORDER BY i ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer insUsers.Close()
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (appid, `+col+`, name, events, users) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (appid, name, `+col+`) DO UPDATE SET events = `+table+`.events + excluded.events, users = `+table+`.users + excluded.users`)
	if err != nil {
		return err
	}
	defer upsert.Close()
	for _, k := range miniback.SortedKeys(m) {
		c := m[k]
		var fresh int64
		var users []string
		for _, u := range c.Users {
			key := miniback.KnownKey{Kind: col[0], AppID: k.AppID, Name: k.Name, User: u, Time: k.Time}
			if _, ok := s.known.Get(key); ok {
				continue // counted by an earlier commit
			}
			seen[key] = 1
			users = append(users, u)
		}
		if len(users) > 0 {
			res, err := insUsers.ExecContext(ctx, k.AppID, k.Time, k.Name, users)
			if err != nil {
				return err
			}
			fresh, _ = res.RowsAffected()
		}
		if _, err := upsert.ExecContext(ctx, k.AppID, k.Time, k.Name, c.Events, fresh); err != nil {
			return err
		}
	}
	return nil
}

// EventNames implements miniback.EventStore.
func (s *EventStore) EventNames(ctx context.Context, appid string, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(names) == 0 {
		return out, nil
	}
	args := []any{appid}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT name FROM event_names WHERE appid = $1 AND name IN (`+placeholders(2, len(names))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: event names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("postgres: event names: %w", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// Series implements miniback.EventStore: from the hour or day rollups, or
// from raw events when split by a prop.
func (s *EventStore) Series(ctx context.Context, q miniback.SeriesQuery) ([]miniback.SeriesPoint, error) {
	if q.Prop != "" {
		return s.propSeries(ctx, q)
	}
	var query string
	var lo, hi int64
	if q.Hourly {
		query = `SELECT hour, events, users FROM event_hours WHERE appid = $1 AND name = $2 AND hour >= $3 AND hour < $4`
		lo, hi = q.From.Truncate(time.Hour).Unix(), q.To.Unix()
	} else {
		query = `SELECT day, events, users FROM event_days WHERE appid = $1 AND name = $2 AND day >= $3 AND day <= $4`
		lo, hi = int64(miniback.DayOf(q.From, q.Loc)), int64(miniback.DayOf(q.To.Add(-time.Millisecond), q.Loc))
	}
	rows, err := s.db.db.QueryContext(ctx, query, q.AppID, q.Name, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("postgres: series: %w", err)
	}
	defer rows.Close()
	got := map[int64]miniback.SeriesPoint{}
	for rows.Next() {
		var t int64
		var p miniback.SeriesPoint
		if err := rows.Scan(&t, &p.Count, &p.Users); err != nil {
			return nil, fmt.Errorf("postgres: series: %w", err)
		}
		if !q.Hourly {
			t = miniback.Day(t).Start(q.Loc).Unix()
		}
		got[t] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: series: %w", err)
	}
	return miniback.FillSeries(q, got), nil
}

func (s *EventStore) propSeries(ctx context.Context, q miniback.SeriesQuery) ([]miniback.SeriesPoint, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT ts, user_key, props FROM events WHERE appid = $1 AND name = $2 AND ts >= $3 AND ts < $4`,
		q.AppID, q.Name, sqlrow.Millis(q.From), sqlrow.Millis(q.To))
	if err != nil {
		return nil, fmt.Errorf("postgres: series: %w", err)
	}
	defer rows.Close()
	ps := miniback.NewPropSeries(q)
	for rows.Next() {
		var ts int64
		var user string
		var props []byte
		if err := rows.Scan(&ts, &user, &props); err != nil {
			return nil, fmt.Errorf("postgres: series: %w", err)
		}
		ps.Add(ts, user, props)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: series: %w", err)
	}
	return ps.Points(), nil
}

// Funnel implements miniback.EventStore from raw events.
func (s *EventStore) Funnel(ctx context.Context, q miniback.FunnelQuery) ([]miniback.FunnelStep, error) {
	args := []any{q.AppID, sqlrow.Millis(q.From), sqlrow.Millis(q.To)}
	for _, st := range q.Steps {
		args = append(args, st)
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT user_key, name, ts FROM events
		WHERE appid = $1 AND ts >= $2 AND ts < $3 AND name IN (`+placeholders(4, len(q.Steps))+`) ORDER BY ts`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: funnel: %w", err)
	}
	defer rows.Close()
	fc := miniback.NewFunnelCounter(q)
	for rows.Next() {
		var user, name string
		var ts int64
		if err := rows.Scan(&user, &name, &ts); err != nil {
			return nil, fmt.Errorf("postgres: funnel: %w", err)
		}
		fc.Add(user, name, ts)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: funnel: %w", err)
	}
	return fc.Steps(), nil
}

// Retention implements miniback.EventStore from the day rollups.
func (s *EventStore) Retention(ctx context.Context, q miniback.RetentionQuery) ([]miniback.Cohort, error) {
	cohorts := map[miniback.Day]*miniback.Cohort{}
	var out []miniback.Cohort
	for d := q.From; d <= q.To; d++ {
		out = append(out, miniback.Cohort{Day: d.String(), Retained: make([]int64, miniback.RetentionDays+1)})
	}
	for i := range out {
		cohorts[q.From+miniback.Day(i)] = &out[i]
	}
	rows, err := s.db.db.QueryContext(ctx, `SELECT f.day, d.day - f.day, COUNT(*) FROM event_first_days f
		JOIN event_day_users d ON d.appid = f.appid AND d.name = f.name AND d.user_key = f.user_key
			AND d.day >= f.day AND d.day <= f.day + $1
		WHERE f.appid = $2 AND f.name = $3 AND f.day >= $4 AND f.day <= $5
		GROUP BY f.day, d.day - f.day`, miniback.RetentionDays, q.AppID, q.Event, int64(q.From), int64(q.To))
	if err != nil {
		return nil, fmt.Errorf("postgres: retention: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day, k, n int64
		if err := rows.Scan(&day, &k, &n); err != nil {
			return nil, fmt.Errorf("postgres: retention: %w", err)
		}
		c := cohorts[miniback.Day(day)]
		c.Retained[k] = n
		if k == 0 {
			c.Users = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: retention: %w", err)
	}
	return out, nil
}

// Active implements miniback.EventStore from the day rollups and the
// sessions table (one session per login).
func (s *EventStore) Active(ctx context.Context, q miniback.ActiveQuery) ([]miniback.ActiveDay, error) {
	ac := miniback.NewActiveCounter(q)
	first := q.From - 29
	rows, err := s.db.db.QueryContext(ctx, `SELECT day, user_key FROM event_day_users WHERE appid = $1 AND name = '' AND day >= $2 AND day <= $3`,
		q.AppID, int64(first), int64(q.To))
	if err != nil {
		return nil, fmt.Errorf("postgres: active: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day int64
		var user string
		if err := rows.Scan(&day, &user); err != nil {
			return nil, fmt.Errorf("postgres: active: %w", err)
		}
		ac.Add(miniback.Day(day), user)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: active: %w", err)
	}
	logins, err := s.db.db.QueryContext(ctx, `SELECT user_id, created_at FROM sessions WHERE appid = $1 AND created_at >= $2 AND created_at < $3`,
		q.AppID, sqlrow.Millis(first.Start(q.Loc)), sqlrow.Millis((q.To + 1).Start(q.Loc)))
	if err != nil {
		return nil, fmt.Errorf("postgres: active: %w", err)
	}
	defer logins.Close()
	for logins.Next() {
		var id, at int64
		if err := logins.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("postgres: active: %w", err)
		}
		ac.Add(miniback.DayOf(sqlrow.FromMillis(at), q.Loc), "u:"+strconv.FormatInt(id, 10))
	}
	if err := logins.Err(); err != nil {
		return nil, fmt.Errorf("postgres: active: %w", err)
	}
	return ac.Days(), nil
}

// DeleteEventsBefore implements miniback.EventStore, app by app so that
// each delete is a range of the (appid, ts) index.
func (s *EventStore) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT DISTINCT appid FROM event_names`)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete events: %w", err)
	}
	var apps []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres: delete events: %w", err)
		}
		apps = append(apps, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("postgres: delete events: %w", err)
	}
	var n int64
	for _, appid := range apps {
		res, err := s.db.db.ExecContext(ctx, `DELETE FROM events WHERE appid = $1 AND ts < $2`, appid, sqlrow.Millis(t))
		if err != nil {
			return n, fmt.Errorf("postgres: delete events: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
		if _, err := s.db.db.ExecContext(ctx, `DELETE FROM event_batches WHERE appid = $1 AND stored_at < $2`, appid, sqlrow.Millis(t)); err != nil {
			return n, fmt.Errorf("postgres: delete events: %w", err)
		}
	}
	return n, nil
}
