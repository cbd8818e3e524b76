// Package sqlite stores miniback's users, sessions, inbox, outbound
// messages, media and cached codes in one SQLite file, through the pure-Go
// driver modernc.org/sqlite.
//
// A DB holds two pools on the same file: a write pool of exactly one
// connection whose transactions begin IMMEDIATE, so concurrent writers queue
// on the Go side and never meet SQLITE_BUSY halfway through a transaction,
// and a read pool for lookups, which WAL mode lets run beside the writer.
// Every connection sets journal_mode=WAL, busy_timeout (DB.BusyTimeout),
// foreign_keys=ON and synchronous=NORMAL through the DSN.
//
// Times are stored as UTC unix milliseconds, so they round-trip exactly at
// millisecond precision.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/miniback/miniback"
)

// DB is one SQLite database file. Set its fields before Open; after Open it
// is safe for concurrent use.
type DB struct {
	// Path is the database file; its parent directory is created on Open.
	// ":memory:" is not supported because the two pools would see two
	// different databases.
	Path string
	// Now returns the current time; it stamps applied migrations.
	Now func() time.Time
	// BusyTimeout is how long a write waits for a lock another process
	// holds on the file before it fails as unavailable. Default 5s.
	BusyTimeout time.Duration

	write *writePool // one connection, BEGIN IMMEDIATE
	read  *sql.DB    // several connections, read-only

	writeStmts, readStmts *stmtCache // prepared statements of the hot paths

	commit committer // group commit of write transactions (commit.go)
}

// NewDB returns a DB for the file at path, not yet opened.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now}
}

// Open creates the parent directory, opens both pools and checks that the
// file can be read. It returns an error when the path is empty or the file
// cannot be opened. Call Migrate before using the stores.
func (db *DB) Open(ctx context.Context) error {
	if db.Path == "" {
		return errors.New("sqlite: open: empty path")
	}
	if db.Path == ":memory:" {
		return errors.New("sqlite: open: :memory: is not supported")
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	if dir := filepath.Dir(db.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("sqlite: open: create directory: %w", err)
		}
	}
	if err := privateFiles(db.Path); err != nil {
		return err
	}
	w, err := sql.Open("sqlite", db.dsn(true))
	if err != nil {
		return fmt.Errorf("sqlite: open write pool: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", db.dsn(false))
	if err != nil {
		w.Close()
		return fmt.Errorf("sqlite: open read pool: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()))
	db.write, db.read = &writePool{w}, r
	db.writeStmts, db.readStmts = newStmtCache(w), newStmtCache(r)
	// The write pool connects first so that it creates the file and turns
	// on WAL before any read-only connection looks at it.
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return err
	}
	return nil
}

// privateFiles creates the database file with mode 0600 when it is missing
// (SQLite gives its -wal and -shm files the mode of the database file) and
// takes group and other permissions away from the files of an existing
// database: they hold user data and sealed session keys.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: open: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("sqlite: open: restrict permissions: %w", err)
			}
		}
	}
	return nil
}

// dsn returns the driver DSN for path with the pragmas every connection
// needs; the write pool begins transactions IMMEDIATE, the read pool is
// query-only.
func (db *DB) dsn(write bool) string {
	busy := db.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if write {
		q.Set("_txlock", "immediate")
		// The savepoints of group commit (commit.go) save the pages a
		// caller changes to a sub-journal; in memory that is a copy, in a
		// temporary file a write system call per page. The write
		// connection runs no large sorts, so its temporary storage stays
		// small. A 32 MiB page cache keeps the random leaves of the
		// openid, session id and refresh token indexes in memory, and a
		// checkpoint every 10,000 WAL pages (about 40 MiB) instead of
		// 1,000 copies each hot page back to the database file fewer
		// times; together they took about 15 % off a login's CPU.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-32768)")
		q.Add("_pragma", "wal_autocheckpoint(10000)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return db.Path + "?" + q.Encode()
}

// DefaultBusyTimeout is DB.BusyTimeout's default.
const DefaultBusyTimeout = 5 * time.Second

// Ping checks that both pools can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if db.write == nil {
		return errors.New("sqlite: ping: database is not open")
	}
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping write pool: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping read pool: %w", err)
	}
	return nil
}

// Stats sums the statistics of both pools, for the metrics of the
// connection pool. A DB that is not open reports zeros.
func (db *DB) Stats() sql.DBStats {
	if db.write == nil || db.read == nil {
		return sql.DBStats{}
	}
	w, r := db.write.Stats(), db.read.Stats()
	return sql.DBStats{
		MaxOpenConnections: w.MaxOpenConnections + r.MaxOpenConnections,
		OpenConnections:    w.OpenConnections + r.OpenConnections,
		InUse:              w.InUse + r.InUse,
		Idle:               w.Idle + r.Idle,
		WaitCount:          w.WaitCount + r.WaitCount,
		WaitDuration:       w.WaitDuration + r.WaitDuration,
		MaxIdleClosed:      w.MaxIdleClosed + r.MaxIdleClosed,
		MaxIdleTimeClosed:  w.MaxIdleTimeClosed + r.MaxIdleTimeClosed,
		MaxLifetimeClosed:  w.MaxLifetimeClosed + r.MaxLifetimeClosed,
	}
}

// Close closes both pools. Closing a DB that is not open is not an error.
func (db *DB) Close() error {
	var errs []error
	if db.readStmts != nil {
		db.readStmts.close()
		db.writeStmts.close()
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	db.read, db.write = nil, nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// constraintError turns a uniqueness violation into a conflict Error and a
// foreign-key violation into a not_found Error naming what, and returns any
// other error unchanged.
func constraintError(err error, what string) error {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return miniback.WrapError(miniback.ECodeConflict, what+" already exists", err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return miniback.WrapError(miniback.ECodeNotFound, what+" refers to a missing row", err)
	}
	return err
}
