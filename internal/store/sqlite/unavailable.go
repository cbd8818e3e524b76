package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

// unavailable turns the errors of a database that cannot take writes now
// into an Error with code unavailable (503, SPEC §7.2): the disk is full,
// the file is read-only or locked by another process past the busy
// timeout, or the I/O failed. Such errors say nothing about the request, so
// they are neither "internal" nor the caller's fault; they pass when the
// operator fixes the disk. Errors already classified (an *miniback.Error
// such as a constraint's conflict) and all others are returned unchanged.
// Other engines classify their own driver's errors the same way.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	var me *miniback.Error
	if errors.As(err, &me) {
		return err
	}
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_NOLFS:
		return miniback.WrapError(miniback.ECodeUnavailable, "the database cannot take writes now", err)
	}
	return err
}

// writePool is the write pool; the statements it runs outside withTx have
// their errors classified by unavailable.
type writePool struct{ *sql.DB }

// ExecContext runs a statement and classifies its error.
func (p *writePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := p.DB.ExecContext(ctx, query, args...)
	return res, unavailable(err)
}

// QueryRowContext runs a statement returning at most one row (RETURNING)
// and classifies the error its Scan returns.
func (p *writePool) QueryRowContext(ctx context.Context, query string, args ...any) sqlrow.Scanner {
	return classifiedRow{p.DB.QueryRowContext(ctx, query, args...)}
}

// classifiedRow is a *sql.Row whose Scan error is classified.
type classifiedRow struct{ row *sql.Row }

func (r classifiedRow) Scan(dest ...any) error { return unavailable(r.row.Scan(dest...)) }

// probeWrite is the table ProbeWrite writes.
const probeWrite = `INSERT INTO ready_probe (id, probed_at) VALUES (1, ?)
	ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at`

// ProbeWrite checks that the database takes a write now: it writes one
// row in a write transaction, as a request would, so that a full disk, a
// read-only or locked file fails /readyz instead of only the next login.
// Its error is an Error with code unavailable for such failures.
func (db *DB) ProbeWrite(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, probeWrite, sqlrow.Millis(db.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: probe write: %w", err)
	}
	return nil
}

// IsUnavailable reports whether err, unclassified by the store, says the
// database cannot serve now (the codes unavailable classifies, or a
// statement that timed out); the API's error writer answers such errors
// 503 like the ones the store classified itself.
func IsUnavailable(err error) bool {
	var me *miniback.Error
	if errors.As(unavailable(err), &me) && me.Code == miniback.ECodeUnavailable {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
