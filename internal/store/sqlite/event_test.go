package sqlite

import (
	"context"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// The active-users rollup that the writer keeps up to date, with days of
// an actor arriving in any order, is the one migration 0015 computes from
// event_day_users for a database written before it.
func TestActiveGapsSameAsMigration(t *testing.T) {
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "gaps.db"))
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	es := NewEventStore(db)
	loc := time.FixedZone("CST", 8*3600)
	rnd := rand.New(rand.NewPCG(3, 5))
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, loc)
	for i := range 40 {
		var b []miniback.EventBatch
		for j := range 3 {
			batch := miniback.EventBatch{AppID: []string{"wxa", "wxb"}[j%2], ID: strconv.Itoa(i*3 + j)}
			for range 10 {
				batch.Events = append(batch.Events, miniback.Event{Name: "open", User: "u:" + strconv.Itoa(rnd.IntN(25)),
					TS: start.Add(time.Duration(rnd.IntN(120*24)) * time.Hour).UnixMilli()})
			}
			b = append(b, batch)
		}
		if _, err := es.AddEvents(ctx, b, loc); err != nil {
			t.Fatal(err)
		}
	}
	read := func() map[string]int64 {
		rows, err := db.read.QueryContext(ctx, `SELECT appid, day, gap, users FROM event_active_gaps WHERE users != 0`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var app string
			var day, gap, users int64
			if err := rows.Scan(&app, &day, &gap, &users); err != nil {
				t.Fatal(err)
			}
			out[app+" "+strconv.FormatInt(day, 10)+" "+strconv.FormatInt(gap, 10)] = users
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	kept := read()
	if len(kept) == 0 {
		t.Fatal("no active-users rollup rows")
	}
	mig, err := migrationFS.ReadFile("migrations/0015_event_active_gaps.sql")
	if err != nil {
		t.Fatal(err)
	}
	backfill := string(mig[strings.Index(string(mig), "INSERT INTO"):])
	if _, err := db.write.ExecContext(ctx, `DELETE FROM event_active_gaps`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	if got := read(); !maps.Equal(got, kept) {
		t.Fatalf("migration computes\n%v\nthe writer kept\n%v", got, kept)
	}
}
