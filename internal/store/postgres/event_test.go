package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/postgres"
)

// TestEventStoresOfSeveralInstances writes overlapping actors through
// several EventStores on one database at once — the instances of a
// deployment, each with its own memory of committed rollup rows — and
// checks that every actor counts once per hour and day, and that the first
// day is the earliest whichever instance saw it.
func TestEventStoresOfSeveralInstances(t *testing.T) {
	db := MustOpenDB(t)
	stores := []*postgres.EventStore{postgres.NewEventStore(db), postgres.NewEventStore(db), postgres.NewEventStore(db)}
	loc := time.FixedZone("CST", 8*3600)
	day0 := time.Date(2026, 11, 21, 10, 0, 0, 0, loc)
	day2 := day0.AddDate(0, 0, 2)
	ctx := context.Background()
	const appid, writers, actors = "wxmulti", 12, 40

	// Each writer sends the same 40 actors on day 2, in its own order.
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			var evs []miniback.Event
			for i := range actors {
				u := fmt.Sprintf("u:%d", (i*7+w*13)%actors)
				evs = append(evs, miniback.Event{Name: "open", TS: day2.UnixMilli(), User: u, Props: []byte(`{}`)})
			}
			_, err := stores[w%3].AddEvents(ctx, []miniback.EventBatch{{AppID: appid, ID: fmt.Sprintf("b%d", w), Events: evs}}, loc)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Then one instance sees every actor on day 0 (a late delivery): the
	// first day the others stored moves back.
	var early []miniback.Event
	for i := range actors {
		early = append(early, miniback.Event{Name: "open", TS: day0.UnixMilli(), User: fmt.Sprintf("u:%d", i), Props: []byte(`{}`)})
	}
	if _, err := stores[1].AddEvents(ctx, []miniback.EventBatch{{AppID: appid, ID: "early", Events: early}}, loc); err != nil {
		t.Fatal(err)
	}

	for _, hourly := range []bool{false, true} {
		pts, err := stores[1].Series(ctx, miniback.SeriesQuery{AppID: appid, Name: "open", Hourly: hourly, Loc: loc,
			From: day2.Add(-time.Hour), To: day2.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var events, users int64
		for _, p := range pts {
			events += p.Count
			users += p.Users
		}
		if events != writers*actors || users != actors {
			t.Errorf("hourly=%v: %d events of %d users; want %d of %d", hourly, events, users, writers*actors, actors)
		}
	}
	cohorts, err := stores[2].Retention(ctx, miniback.RetentionQuery{AppID: appid, Event: "open",
		From: miniback.DayOf(day0, loc), To: miniback.DayOf(day2, loc)})
	if err != nil {
		t.Fatal(err)
	}
	var later int64
	for _, c := range cohorts[1:] {
		later += c.Users
	}
	if len(cohorts) != 3 || cohorts[0].Day != "2026-11-21" || cohorts[0].Users != actors || cohorts[0].Retained[2] != actors || later != 0 {
		t.Errorf("cohorts = %+v; want every actor first seen on 2026-11-21 and back two days later", cohorts)
	}
}
