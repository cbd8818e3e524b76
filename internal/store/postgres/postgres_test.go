package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/postgres"
	"github.com/miniback/miniback/internal/store/storetest"
)

// MustOpenDB opens and migrates a database in a fresh schema of the test
// server and closes it when the test ends.
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	return mustOpen(tb, storetest.PostgresURL(tb))
}

func mustOpen(tb testing.TB, u string) *postgres.DB {
	tb.Helper()
	db := postgres.NewDB(u)
	if err := db.Open(context.Background()); err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	db := MustOpenDB(t)
	stores := storetest.Stores{
		Users:    postgres.NewUserStore(db),
		Sessions: postgres.NewSessionStore(db),
		Inbox:    postgres.NewInboxStore(db),
		Messages: postgres.NewMessageStore(db),
		Media:    postgres.NewMediaStore(db),
		Stats:    postgres.NewStatsStore(db),
		Purge:    postgres.NewPurgeStore(db),
		Events:   postgres.NewEventStore(db),
		Datacube: postgres.NewDatacubeStore(db),
	}
	storetest.Run(t, func(*testing.T) storetest.Stores { return stores })
}

// TestPayConformance runs the pay suite on one database.
func TestPayConformance(t *testing.T) {
	st := postgres.NewPayStore(MustOpenDB(t))
	storetest.RunPay(t, func(*testing.T) miniback.PayStore { return st })
}

// TestMigrateConcurrent starts several instances at once on an empty
// schema: each version must be applied exactly once, and all must end with
// the whole schema.
func TestMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	u := storetest.PostgresURL(t)
	const n = 4
	applied := make([][]int, n)
	errs := make([]error, n)
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		dbs[i] = postgres.NewDB(u)
		if err := dbs[i].Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { applied[i], errs[i] = dbs[i].ApplyMigrations(ctx) })
	}
	wg.Wait()
	var all []int
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		all = append(all, applied[i]...)
	}
	slices.Sort(all)
	got, err := dbs[0].AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !slices.Equal(all, got) {
		t.Fatalf("applied across instances %v, recorded %v: want each version once", all, got)
	}
}

// TestOpenErrors checks that bad URLs fail Open without echoing the password.
func TestOpenErrors(t *testing.T) {
	tests := []struct{ name, url string }{
		{"malformed", "postgres://user:s3cretpw@127.0.0.1:notaport/db"},
		{"unreachable", "postgres://user:s3cretpw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := postgres.NewDB(tt.url)
			err := db.Open(context.Background())
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "s3cretpw") {
				t.Errorf("error shows the password: %v", err)
			}
			if tt.name == "malformed" && !errors.Is(err, postgres.ErrBadURL) {
				t.Errorf("error = %v, want ErrBadURL", err)
			}
		})
	}
}
