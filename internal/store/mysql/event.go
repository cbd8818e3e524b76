package mysql

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
		insBatch, err := tx.PrepareContext(ctx, `INSERT IGNORE INTO event_batches (appid, id, stored_at) VALUES (?, ?, ?)`)
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
		return 0, fmt.Errorf("mysql: add events: %w", err)
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
		q.WriteString("(?, ?, ?, ?, ?, ?)")
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
		if _, err := tx.ExecContext(ctx, `INSERT IGNORE INTO event_names (appid, name, first_seen) VALUES (?, ?, ?)`, k[0], k[1], now); err != nil {
			return err
		}
	}
	if err := s.writeCounts(ctx, tx, r.Hours, "event_hours", "event_hour_users", "hour", seen); err != nil {
		return err
	}
	if err := s.writeCounts(ctx, tx, r.Days, "event_days", "event_day_users", "day", seen); err != nil {
		return err
	}
	first, err := tx.PrepareContext(ctx, `INSERT INTO event_first_days (appid, day, name, user_key) VALUES (?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE day = LEAST(day, VALUES(day))`)
	if err != nil {
		return err
	}
	defer first.Close()
	for _, k := range r.SortedFirst() {
		d := int64(r.First[k])
		key := miniback.KnownKey{Kind: 'f', AppID: k.AppID, Name: k.Name, User: k.User}
		if old, ok := s.known.Get(key); ok && old <= d {
			continue // the stored first day is already this early
		}
		seen[key] = d
		if _, err := first.ExecContext(ctx, k.AppID, d, k.Name, k.User); err != nil {
			return err
		}
	}
	return nil
}

func (s *EventStore) writeCounts(ctx context.Context, tx *sql.Tx, m map[miniback.RollupKey]*miniback.RollupCount, table, usersTable, col string, seen map[miniback.KnownKey]int64) error {
	insUser, err := tx.PrepareContext(ctx, `INSERT IGNORE INTO `+usersTable+` (appid, `+col+`, name, user_key) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insUser.Close()
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (appid, `+col+`, name, events, users) VALUES (?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE events = events + VALUES(events), users = users + VALUES(users)`)
	if err != nil {
		return err
	}
	defer upsert.Close()
	for _, k := range miniback.SortedKeys(m) {
		c := m[k]
		var fresh int64
		for _, u := range c.Users {
			key := miniback.KnownKey{Kind: col[0], AppID: k.AppID, Name: k.Name, User: u, Time: k.Time}
			if _, ok := s.known.Get(key); ok {
				continue // counted by an earlier commit
			}
			seen[key] = 1
			res, err := insUser.ExecContext(ctx, k.AppID, k.Time, k.Name, u)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			fresh += n
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
	rows, err := s.db.db.QueryContext(ctx, `SELECT name FROM event_names WHERE appid = ? AND name IN (`+placeholders(len(names))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("mysql: event names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("mysql: event names: %w", err)
		}
		out[n] = true
	}
	return out, rows.Err()
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
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
		query = `SELECT hour, events, users FROM event_hours WHERE appid = ? AND name = ? AND hour >= ? AND hour < ?`
		lo, hi = q.From.Truncate(time.Hour).Unix(), q.To.Unix()
	} else {
		query = `SELECT day, events, users FROM event_days WHERE appid = ? AND name = ? AND day >= ? AND day <= ?`
		lo, hi = int64(miniback.DayOf(q.From, q.Loc)), int64(miniback.DayOf(q.To.Add(-time.Millisecond), q.Loc))
	}
	rows, err := s.db.db.QueryContext(ctx, query, q.AppID, q.Name, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("mysql: series: %w", err)
	}
	defer rows.Close()
	got := map[int64]miniback.SeriesPoint{}
	for rows.Next() {
		var t int64
		var p miniback.SeriesPoint
		if err := rows.Scan(&t, &p.Count, &p.Users); err != nil {
			return nil, fmt.Errorf("mysql: series: %w", err)
		}
		if !q.Hourly {
			t = miniback.Day(t).Start(q.Loc).Unix()
		}
		got[t] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: series: %w", err)
	}
	return miniback.FillSeries(q, got), nil
}

func (s *EventStore) propSeries(ctx context.Context, q miniback.SeriesQuery) ([]miniback.SeriesPoint, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT ts, user_key, props FROM events WHERE appid = ? AND name = ? AND ts >= ? AND ts < ?`,
		q.AppID, q.Name, sqlrow.Millis(q.From), sqlrow.Millis(q.To))
	if err != nil {
		return nil, fmt.Errorf("mysql: series: %w", err)
	}
	defer rows.Close()
	ps := miniback.NewPropSeries(q)
	for rows.Next() {
		var ts int64
		var user string
		var props []byte
		if err := rows.Scan(&ts, &user, &props); err != nil {
			return nil, fmt.Errorf("mysql: series: %w", err)
		}
		ps.Add(ts, user, props)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: series: %w", err)
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
		WHERE appid = ? AND ts >= ? AND ts < ? AND name IN (`+placeholders(len(q.Steps))+`) ORDER BY ts`, args...)
	if err != nil {
		return nil, fmt.Errorf("mysql: funnel: %w", err)
	}
	defer rows.Close()
	fc := miniback.NewFunnelCounter(q)
	for rows.Next() {
		var user, name string
		var ts int64
		if err := rows.Scan(&user, &name, &ts); err != nil {
			return nil, fmt.Errorf("mysql: funnel: %w", err)
		}
		fc.Add(user, name, ts)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: funnel: %w", err)
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
			AND d.day >= f.day AND d.day <= f.day + ?
		WHERE f.appid = ? AND f.name = ? AND f.day >= ? AND f.day <= ?
		GROUP BY f.day, d.day - f.day`, miniback.RetentionDays, q.AppID, q.Event, int64(q.From), int64(q.To))
	if err != nil {
		return nil, fmt.Errorf("mysql: retention: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day, k, n int64
		if err := rows.Scan(&day, &k, &n); err != nil {
			return nil, fmt.Errorf("mysql: retention: %w", err)
		}
		c := cohorts[miniback.Day(day)]
		c.Retained[k] = n
		if k == 0 {
			c.Users = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: retention: %w", err)
	}
	return out, nil
}

// Active implements miniback.EventStore from the day rollups and the
// sessions table (one session per login).
func (s *EventStore) Active(ctx context.Context, q miniback.ActiveQuery) ([]miniback.ActiveDay, error) {
	ac := miniback.NewActiveCounter(q)
	first := q.From - 29
	rows, err := s.db.db.QueryContext(ctx, `SELECT day, user_key FROM event_day_users WHERE appid = ? AND name = '' AND day >= ? AND day <= ?`,
		q.AppID, int64(first), int64(q.To))
	if err != nil {
		return nil, fmt.Errorf("mysql: active: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day int64
		var user string
		if err := rows.Scan(&day, &user); err != nil {
			return nil, fmt.Errorf("mysql: active: %w", err)
		}
		ac.Add(miniback.Day(day), user)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql: active: %w", err)
	}
	logins, err := s.db.db.QueryContext(ctx, `SELECT user_id, created_at FROM sessions WHERE appid = ? AND created_at >= ? AND created_at < ?`,
		q.AppID, sqlrow.Millis(first.Start(q.Loc)), sqlrow.Millis((q.To + 1).Start(q.Loc)))
	if err != nil {
		return nil, fmt.Errorf("mysql: active: %w", err)
	}
	defer logins.Close()
	for logins.Next() {
		var id, at int64
		if err := logins.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("mysql: active: %w", err)
		}
		ac.Add(miniback.DayOf(sqlrow.FromMillis(at), q.Loc), "u:"+strconv.FormatInt(id, 10))
	}
	if err := logins.Err(); err != nil {
		return nil, fmt.Errorf("mysql: active: %w", err)
	}
	return ac.Days(), nil
}

// DeleteEventsBefore implements miniback.EventStore, app by app so that
// each delete is a range of the (appid, ts) index.
func (s *EventStore) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT DISTINCT appid FROM event_names`)
	if err != nil {
		return 0, fmt.Errorf("mysql: delete events: %w", err)
	}
	var apps []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			rows.Close()
			return 0, fmt.Errorf("mysql: delete events: %w", err)
		}
		apps = append(apps, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("mysql: delete events: %w", err)
	}
	var n int64
	for _, appid := range apps {
		res, err := s.db.db.ExecContext(ctx, `DELETE FROM events WHERE appid = ? AND ts < ?`, appid, sqlrow.Millis(t))
		if err != nil {
			return n, fmt.Errorf("mysql: delete events: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
		if _, err := s.db.db.ExecContext(ctx, `DELETE FROM event_batches WHERE appid = ? AND stored_at < ?`, appid, sqlrow.Millis(t)); err != nil {
			return n, fmt.Errorf("mysql: delete events: %w", err)
		}
	}
	return n, nil
}
