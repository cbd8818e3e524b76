package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/internal/store/storetest"
)

// MustOpenDB opens and migrates a fresh database in a temporary directory
// and closes it when the test ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "sub", "miniback.db"))
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
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db := MustOpenDB(t)
		return storetest.Stores{
			Users:    sqlite.NewUserStore(db),
			Sessions: sqlite.NewSessionStore(db),
			Inbox:    sqlite.NewInboxStore(db),
			Messages: sqlite.NewMessageStore(db),
			Media:    sqlite.NewMediaStore(db),
			Stats:    sqlite.NewStatsStore(db),
			Purge:    sqlite.NewPurgeStore(db),
			Events:   sqlite.NewEventStore(db),
			Datacube: sqlite.NewDatacubeStore(db),
		}
	})
}

func TestPayConformance(t *testing.T) {
	storetest.RunPay(t, func(t *testing.T) miniback.PayStore { return sqlite.NewPayStore(MustOpenDB(t)) })
}

// TestPayConformanceSharedDB runs the pay suite on one database, as the
// server engines do.
func TestPayConformanceSharedDB(t *testing.T) {
	st := sqlite.NewPayStore(MustOpenDB(t))
	storetest.RunPay(t, func(*testing.T) miniback.PayStore { return st })
}

// TestConformanceSharedDB runs the suite with every subtest on one
// database, as the MySQL and PostgreSQL engines will, to check that the
// suite keeps its rows apart.
func TestConformanceSharedDB(t *testing.T) {
	db := MustOpenDB(t)
	stores := storetest.Stores{
		Users:    sqlite.NewUserStore(db),
		Sessions: sqlite.NewSessionStore(db),
		Inbox:    sqlite.NewInboxStore(db),
		Messages: sqlite.NewMessageStore(db),
		Media:    sqlite.NewMediaStore(db),
		Stats:    sqlite.NewStatsStore(db),
		Purge:    sqlite.NewPurgeStore(db),
		Events:   sqlite.NewEventStore(db),
		Datacube: sqlite.NewDatacubeStore(db),
	}
	storetest.Run(t, func(*testing.T) storetest.Stores { return stores })
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "m.db"))
	db.Now = func() time.Time { return time.Unix(1, 0) }
	if err := db.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })

	applied, err := db.ApplyMigrations(ctx)
	if err != nil {
		t.Fatalf("first ApplyMigrations: %v", err)
	}
	if len(applied) < 2 {
		t.Fatalf("fresh database applied %v, want every version", applied)
	}
	for i, v := range applied {
		if v != i+1 {
			t.Fatalf("applied %v, want 1..n in order", applied)
		}
	}
	recorded, err := db.AppliedMigrations(ctx)
	if err != nil {
		t.Fatalf("AppliedMigrations: %v", err)
	}
	if !slices.Equal(recorded, applied) {
		t.Errorf("recorded %v, want %v", recorded, applied)
	}
	again, err := db.ApplyMigrations(ctx)
	if err != nil {
		t.Fatalf("second ApplyMigrations: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second run applied %v, want none", again)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Errorf("Migrate on a migrated database: %v", err)
	}
}

func TestMigrateConcurrentDBs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	const n = 4
	dbs := make([]*sqlite.DB, n)
	for i := range dbs {
		dbs[i] = sqlite.NewDB(path)
		if err := dbs[i].Open(ctx); err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	results := make(chan []int, n)
	errs := make(chan error, n)
	for _, db := range dbs {
		go func() {
			applied, err := db.ApplyMigrations(ctx)
			results <- applied
			errs <- err
		}()
	}
	var all []int
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("ApplyMigrations: %v", err)
		}
		all = append(all, <-results...)
	}
	slices.Sort(all)
	recorded, err := dbs[0].AppliedMigrations(ctx)
	if err != nil {
		t.Fatalf("AppliedMigrations: %v", err)
	}
	if !slices.Equal(all, recorded) {
		t.Errorf("versions applied across processes %v, want each of %v once", all, recorded)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name, path string
	}{
		{"empty path", ""},
		{"memory", ":memory:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := sqlite.NewDB(tt.path)
			if err := db.Open(context.Background()); err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestOpenMakesFilesPrivate: a new database file is 0600, and an existing
// one left world-readable (by an older version) is restricted on Open.
func TestOpenMakesFilesPrivate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fresh := sqlite.NewDB(filepath.Join(dir, "fresh.db"))
	if err := fresh.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	old := filepath.Join(dir, "old.db")
	for _, p := range []string{old, old + "-wal"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := sqlite.NewDB(old)
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{fresh.Path, old, old + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v", p, perm)
		}
	}
}

func TestPingAndClose(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	closed := sqlite.NewDB(filepath.Join(t.TempDir(), "c.db"))
	if err := closed.Ping(ctx); err == nil {
		t.Error("Ping on an unopened DB succeeded")
	}
	if err := closed.Close(); err != nil {
		t.Errorf("Close on an unopened DB: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	db := MustOpenDB(t)
	ss := sqlite.NewSessionStore(db)
	// foreign_keys=ON: a session of a missing user is refused.
	s := &miniback.Session{ID: "s1", AppID: "wx1", UserID: 42, CreatedAt: time.Now(), ExpiresAt: time.Now()}
	rt := &miniback.RefreshToken{Hash: []byte("h"), ExpiresAt: time.Now()}
	err := ss.CreateSession(context.Background(), s, rt)
	if miniback.ErrorCode(err) != miniback.ECodeNotFound {
		t.Errorf("CreateSession for a missing user: %v, want not_found", err)
	}
	// journal_mode=WAL: the write-ahead log sits beside the file.
	if _, err := os.Stat(db.Path + "-wal"); err != nil {
		t.Errorf("no WAL file: %v", err)
	}
}

func BenchmarkUpsertLogin(b *testing.B) {
	ctx := context.Background()
	us := sqlite.NewUserStore(MustOpenDB(b))
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// One new user in eight; the rest are returning logins.
			i := n.Add(1)
			openid := fmt.Sprintf("o%d", i%(int64(b.N)/8+1))
			if _, _, err := us.UpsertLogin(ctx, "wxbench", openid, "", time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSessionLookup(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	us, ss := sqlite.NewUserStore(db), sqlite.NewSessionStore(db)
	u, _, err := us.UpsertLogin(ctx, "wxbench", "o1", "", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	const sessions = 1000
	for i := range sessions {
		s := &miniback.Session{ID: fmt.Sprintf("s%d", i), AppID: "wxbench", UserID: u.ID,
			SealedSessionKey: []byte("k"), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		rt := &miniback.RefreshToken{Hash: []byte(s.ID), ExpiresAt: s.ExpiresAt}
		if err := ss.CreateSession(ctx, s, rt); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ss.Session(ctx, fmt.Sprintf("s%d", n.Add(1)%sessions)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSessionUserLookup is the read of every authenticated request:
// the session and its user in one prepared query.
func BenchmarkSessionUserLookup(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	us, ss := sqlite.NewUserStore(db), sqlite.NewSessionStore(db)
	const sessions = 1000
	for i := range sessions {
		u, _, err := us.UpsertLogin(ctx, "wxbench", fmt.Sprintf("o%d", i), "", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		s := &miniback.Session{ID: fmt.Sprintf("s%d", i), AppID: "wxbench", UserID: u.ID,
			SealedSessionKey: []byte("k"), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		rt := &miniback.RefreshToken{Hash: []byte(s.ID), ExpiresAt: s.ExpiresAt}
		if err := ss.CreateSession(ctx, s, rt); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := ss.SessionUser(ctx, fmt.Sprintf("s%d", n.Add(1)%sessions)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
