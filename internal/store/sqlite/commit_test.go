package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// openCommitDB opens a database with one table t(k TEXT PRIMARY KEY).
func openCommitDB(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "c.db"))
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// keys returns the rows of t.
func keys(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	rows, err := db.read.Query(`SELECT k FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

// queued waits until n calls wait behind the running batch.
func queued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.commit.mu.Lock()
		got := len(db.commit.queue)
		db.commit.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommit checks that write transactions arriving while one runs
// are committed together in one batch, that each caller gets its own
// result, and that a failing caller undoes only its own statements (also
// those before its failing one), while a constraint error, an error of
// the function itself and a caller that went away before its turn change
// nothing of the others'.
func TestGroupCommit(t *testing.T) {
	db := openCommitDB(t)
	ctx := context.Background()
	insert := func(ctx context.Context, tx *sql.Tx, k string) error {
		_, err := db.txExec(ctx, tx, `INSERT INTO t (k) VALUES (?)`, k)
		return err
	}
	if err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return insert(ctx, tx, "taken") }); err != nil {
		t.Fatal(err)
	}
	errOwn := errors.New("refused by the caller")
	gone, cancel := context.WithCancel(ctx)
	tests := []struct {
		name    string
		ctx     context.Context
		fn      func(ctx context.Context, tx *sql.Tx) error
		wantErr bool
		want    []string // rows this call leaves
		absent  []string // rows it must not leave
	}{
		{name: "ok", fn: func(ctx context.Context, tx *sql.Tx) error {
			return errors.Join(insert(ctx, tx, "a1"), insert(ctx, tx, "a2"))
		}, want: []string{"a1", "a2"}},
		{name: "constraint after a write", fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(ctx, tx, "b1"); err != nil {
				return err
			}
			return insert(ctx, tx, "taken")
		}, wantErr: true, absent: []string{"b1"}},
		{name: "own error after a write", fn: func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(ctx, tx, "c1"); err != nil {
				return err
			}
			return errOwn
		}, wantErr: true, absent: []string{"c1"}},
		{name: "caller gone before its turn", ctx: gone, fn: func(ctx context.Context, tx *sql.Tx) error {
			return insert(ctx, tx, "d1")
		}, wantErr: true, absent: []string{"d1"}},
		{name: "second ok", fn: func(ctx context.Context, tx *sql.Tx) error {
			return insert(ctx, tx, "e1")
		}, want: []string{"e1"}},
	}

	// The first call holds the write connection until every test call
	// has queued behind it, so that they all run as the second batch.
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			<-release
			return insert(ctx, tx, "first")
		}); err != nil {
			t.Error(err)
		}
	})
	queued(t, db, 0)
	for db.commit.mu.Lock(); !db.commit.leading; db.commit.mu.Lock() {
		db.commit.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	db.commit.mu.Unlock()
	commitsBefore := db.commit.commits
	errs := make([]error, len(tests))
	for i, tt := range tests {
		c := tt.ctx
		if c == nil {
			c = ctx
		}
		wg.Go(func() { errs[i] = db.withTx(c, tt.fn) })
		queued(t, db, i+1) // keep the order of the table
	}
	cancel()
	close(release)
	wg.Wait()

	rows := keys(t, db)
	for i, tt := range tests {
		if (errs[i] != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, errs[i], tt.wantErr)
		}
		for _, k := range tt.want {
			if !rows[k] {
				t.Errorf("%s: row %s missing", tt.name, k)
			}
		}
		for _, k := range tt.absent {
			if rows[k] {
				t.Errorf("%s: row %s written by a failed call", tt.name, k)
			}
		}
	}
	if !errors.Is(errs[2], errOwn) {
		t.Errorf("own error = %v, want %v", errs[2], errOwn)
	}
	if !errors.Is(errs[3], context.Canceled) {
		t.Errorf("gone caller: err = %v, want context.Canceled", errs[3])
	}
	if got := db.commit.commits - commitsBefore; got != 2 {
		t.Errorf("%d batches for the first call and %d queued ones, want 2", got, len(tests))
	}
	if !rows["first"] || !rows["taken"] {
		t.Errorf("rows = %v", rows)
	}
}

// TestGroupCommitCallerCancelsMidway checks that a caller whose request is
// cancelled while its function runs cannot interrupt the shared
// transaction: its statements and the batch's others still commit.
func TestGroupCommitCallerCancelsMidway(t *testing.T) {
	db := openCommitDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cancel()
		for i := range 3 {
			if _, err := db.txExec(ctx, tx, `INSERT INTO t (k) VALUES (?)`, fmt.Sprint("m", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(keys(t, db)); got != 3 {
		t.Errorf("%d rows, want 3", got)
	}
}

// TestGroupCommitManyWriters checks that many concurrent writers each see
// their own write committed and that the lead is given back at the end.
func TestGroupCommitManyWriters(t *testing.T) {
	db := openCommitDB(t)
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.withTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				_, err := db.txExec(ctx, tx, `INSERT INTO t (k) VALUES (?)`, fmt.Sprint("w", i))
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if got := len(keys(t, db)); got != n {
		t.Errorf("%d rows, want %d", got, n)
	}
	if db.commit.leading || len(db.commit.queue) != 0 {
		t.Errorf("committer not idle after the writers: leading %v, queue %d", db.commit.leading, len(db.commit.queue))
	}
}

// TestWriteConnectionPragmas checks the write connection's settings for
// group commit: temporary storage (where savepoints save pages) in memory,
// a 32 MiB page cache, a checkpoint every 10,000 WAL pages.
func TestWriteConnectionPragmas(t *testing.T) {
	db := openCommitDB(t)
	tests := []struct {
		pragma string
		want   int
	}{
		{"temp_store", 2}, // MEMORY
		{"cache_size", -32768},
		{"wal_autocheckpoint", 10000},
	}
	for _, tt := range tests {
		var got int
		if err := db.write.QueryRowContext(context.Background(), `PRAGMA `+tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s = %d, want %d", tt.pragma, got, tt.want)
		}
	}
}
