package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/miniback/miniback/internal/store/sqlrow"
)

// migrationFS holds the schema, one file per version: NNNN_name.sql. A new
// version is a new file; applied files are never edited.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_lock key that serializes migrations of
// every instance on one database ("miniback" in ASCII, as a number).
const migrateLockKey int64 = 0x6d696e696261636b

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// Migrate applies every migration the database lacks. See ApplyMigrations.
func (db *DB) Migrate(ctx context.Context) error {
	_, err := db.ApplyMigrations(ctx)
	return err
}

// ApplyMigrations applies, in version order and each in its own
// transaction, every embedded migration not yet recorded in
// schema_migrations, and returns the versions it applied. It holds a
// session-level pg_advisory_lock while it works, so instances starting at
// once on an empty database apply each version exactly once: the others
// wait, then find nothing left to do. It stops at the first failing
// migration, leaving earlier ones applied.
func (db *DB) ApplyMigrations(ctx context.Context) ([]int, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return nil, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	// The unlock must run even when ctx has ended, or the lock would stay
	// with the pooled session.
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey)
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	)`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("postgres: migrate: create schema_migrations: %w", err)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range migs {
		did, err := db.applyMigration(ctx, conn, m)
		if err != nil {
			return applied, fmt.Errorf("postgres: migrate %04d_%s: %w", m.version, m.name, err)
		}
		if did {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it is recorded, inside one transaction on
// conn (PostgreSQL's DDL is transactional), and reports whether it did.
func (db *DB) applyMigration(ctx context.Context, conn *sql.Conn, m migration) (bool, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var n int
	err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.version).Scan(&n)
	if err != nil || n > 0 {
		return false, err
	}
	for _, stmt := range statements(m.sql) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, sqlrow.Millis(db.Now()))
	if err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// statements splits a migration file into its statements, at each ";" that
// ends a line. Migrations hold no other semicolons at line ends.
func statements(src string) []string {
	var out []string
	for _, s := range strings.SplitAfter(src, ";\n") {
		if s = strings.TrimSpace(s); strings.Trim(s, ";") != "" && !onlyComments(s) {
			out = append(out, s)
		}
	}
	return out
}

// onlyComments reports whether s holds nothing but "--" comment lines.
func onlyComments(s string) bool {
	for line := range strings.Lines(s) {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

// loadMigrations reads the embedded migrations sorted by version and rejects
// badly named files and duplicate versions.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: list: %w", err)
	}
	var migs []migration
	for _, p := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migrate: bad migration file name %q", p)
		}
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("postgres: migrate: read %s: %w", p, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("postgres: migrate: duplicate version %d", migs[i].version)
		}
	}
	return migs, nil
}
