// Package postgres stores miniback's users, sessions, inbox, outbound
// messages, media and cached codes in PostgreSQL 13 or later, through pgx
// (github.com/jackc/pgx/v5) behind database/sql.
//
// The SQL is written out here for PostgreSQL; the schema and the behaviour
// match the sqlite package, and both pass internal/store/storetest. Every
// transaction runs at READ COMMITTED, the server's default; the statements
// that must not race are single statements (INSERT … ON CONFLICT, UPDATE …
// WHERE status = … RETURNING) or lock the row they decide on (SELECT … FOR
// UPDATE), so concurrent instances on one database keep the guarantees of
// SPEC.
//
// Times are stored as UTC unix milliseconds in BIGINT columns, so they
// round-trip exactly at millisecond precision.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/miniback/miniback"
)

// DB is one PostgreSQL database. Set its fields before Open; after Open it
// is safe for concurrent use.
type DB struct {
	// URL is a postgres:// or postgresql:// connection URL.
	URL string
	// Now returns the current time; it stamps applied migrations.
	Now func() time.Time
	// MaxOpenConns caps the pool; 0 means 4 × GOMAXPROCS.
	MaxOpenConns int
	// MaxIdleConns caps idle connections; 0 means MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime closes connections older than this; 0 keeps them.
	ConnMaxLifetime time.Duration

	db *sql.DB
}

// NewDB returns a DB for the connection URL u, not yet opened.
func NewDB(u string) *DB {
	return &DB{URL: u, Now: time.Now}
}

// ErrBadURL is wrapped by Open's error when the URL cannot be parsed; the
// error text never repeats the URL, which may hold a password.
var ErrBadURL = errors.New("postgres: malformed connection URL")

// Open parses the URL, opens the pool and checks that the server answers.
// It returns an error wrapping ErrBadURL for a URL it cannot parse, and the
// server's error (wrong password, unknown database, unreachable) otherwise.
// Call Migrate before using the stores.
func (db *DB) Open(ctx context.Context) error {
	if db.Now == nil {
		db.Now = time.Now
	}
	cc, err := pgx.ParseConfig(db.URL)
	if err != nil {
		// pgx's parse error quotes the URL, password included.
		return ErrBadURL
	}
	db.db = stdlib.OpenDB(*cc)
	open := db.MaxOpenConns
	if open <= 0 {
		open = 4 * runtime.GOMAXPROCS(0)
	}
	idle := db.MaxIdleConns
	if idle <= 0 {
		idle = open
	}
	db.db.SetMaxOpenConns(open)
	db.db.SetMaxIdleConns(idle)
	db.db.SetConnMaxLifetime(db.ConnMaxLifetime)
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return err
	}
	return nil
}

// Ping checks that the server answers a query and that this session may
// write (a server in recovery or set read-only fails it).
func (db *DB) Ping(ctx context.Context) error {
	if db.db == nil {
		return errors.New("postgres: ping: database is not open")
	}
	var readOnly string
	if err := db.db.QueryRowContext(ctx, `SHOW transaction_read_only`).Scan(&readOnly); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	if readOnly == "on" {
		return errors.New("postgres: ping: the server is read-only")
	}
	return nil
}

// Stats returns the pool's statistics, for the metrics of the connection
// pool. A DB that is not open reports zeros.
func (db *DB) Stats() sql.DBStats {
	if db.db == nil {
		return sql.DBStats{}
	}
	return db.db.Stats()
}

// Close closes the pool. Closing a DB that is not open is not an error.
func (db *DB) Close() error {
	if db.db == nil {
		return nil
	}
	err := db.db.Close()
	db.db = nil
	if err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// withTx runs fn in a transaction and commits it when fn returns nil. A
// deadlock or serialization failure reruns fn, up to three times in all.
func (db *DB) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for range 3 {
		if err = db.tryTx(ctx, fn); !retryable(err) {
			return err
		}
	}
	return err
}

// tryTx runs fn once in a transaction.
func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// retryable reports whether err is a deadlock or serialization failure,
// after which the whole transaction may simply run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// constraintError turns a uniqueness violation into a conflict Error and a
// foreign-key violation into a not_found Error naming what, and returns any
// other error unchanged.
func constraintError(err error, what string) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return miniback.WrapError(miniback.ECodeConflict, what+" already exists", err)
	case "23503": // foreign_key_violation
		return miniback.WrapError(miniback.ECodeNotFound, what+" refers to a missing row", err)
	}
	return err
}

// nonNilBytes turns nil into an empty slice, which the NOT NULL column takes.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
