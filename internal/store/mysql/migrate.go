package mysql

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

// migrateLockName is the prefix of the GET_LOCK name that serializes
// migrations of every instance on one database; the database name follows.
const migrateLockName = "miniback.migrate."

// migrateLockWait is how long an instance waits for another's migrations.
const migrateLockWait = 300 // seconds

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

// ApplyMigrations applies, in version order, every embedded migration not
// yet recorded in schema_migrations, and returns the versions it applied.
// It holds the named lock GET_LOCK('miniback.migrate.<database>') while it
// works, so instances starting at once on an empty database apply each
// version exactly once: the others wait, then find nothing left to do. It stops at the first failing
// migration, leaving earlier ones applied.
func (db *DB) ApplyMigrations(ctx context.Context) ([]int, error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("mysql: migrate: %w", err)
	}
	defer conn.Close()
	var got sql.NullInt64
	err = conn.QueryRowContext(ctx, `SELECT GET_LOCK(CONCAT(?, DATABASE()), ?)`, migrateLockName, migrateLockWait).Scan(&got)
	if err != nil {
		return nil, fmt.Errorf("mysql: migrate: lock: %w", err)
	}
	if got.Int64 != 1 {
		return nil, fmt.Errorf("mysql: migrate: another instance held the migration lock for %d s", migrateLockWait)
	}
	// The unlock must run even when ctx has ended, or the lock would stay
	// with the pooled session.
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))`, migrateLockName)
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT  NOT NULL
	) ENGINE=InnoDB`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("mysql: migrate: create schema_migrations: %w", err)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range migs {
		did, err := db.applyMigration(ctx, conn, m)
		if err != nil {
			return applied, fmt.Errorf("mysql: migrate %04d_%s: %w", m.version, m.name, err)
		}
		if did {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it is recorded, on conn, and reports
// whether it did. MySQL commits each DDL statement by itself, so a
// migration that fails halfway leaves its first statements applied and is
// not recorded; the migration lock keeps other instances out meanwhile.
func (db *DB) applyMigration(ctx context.Context, conn *sql.Conn, m migration) (bool, error) {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
	if err != nil || n > 0 {
		return false, err
	}
	for _, stmt := range statements(m.sql) {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return false, err
		}
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, sqlrow.Millis(db.Now()))
	return err == nil, err
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
		return nil, fmt.Errorf("mysql: migrate: list: %w", err)
	}
	var migs []migration
	for _, p := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("mysql: migrate: bad migration file name %q", p)
		}
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("mysql: migrate: read %s: %w", p, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("mysql: migrate: duplicate version %d", migs[i].version)
		}
	}
	return migs, nil
}
