package sqlite

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
// schema_migrations, and returns the versions it applied. Running it again
// applies nothing; two processes running it at once apply each version once.
// It stops at the first failing migration, leaving earlier ones applied.
func (db *DB) ApplyMigrations(ctx context.Context) ([]int, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`
	if _, err := db.write.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range migs {
		did, err := db.applyMigration(ctx, m)
		if err != nil {
			return applied, fmt.Errorf("sqlite: migrate %04d_%s: %w", m.version, m.name, err)
		}
		if did {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration applies m unless it is recorded, inside one write
// transaction, and reports whether it did.
func (db *DB) applyMigration(ctx context.Context, m migration) (bool, error) {
	did := false
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, sqlrow.Millis(db.Now()))
		did = err == nil
		return err
	})
	return did, err
}

// loadMigrations reads the embedded migrations sorted by version and rejects
// badly named files and duplicate versions.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: list: %w", err)
	}
	var migs []migration
	for _, p := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: migrate: bad migration file name %q", p)
		}
		b, err := migrationFS.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("sqlite: migrate: read %s: %w", p, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("sqlite: migrate: duplicate version %d", migs[i].version)
		}
	}
	return migs, nil
}
