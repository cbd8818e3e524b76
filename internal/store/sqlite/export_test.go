package sqlite

import (
	"context"
	"fmt"
)

// AppliedMigrations returns the versions recorded in schema_migrations, in
// order. Only the tests read them: the binary asks ApplyMigrations what it
// applied.
func (db *DB) AppliedMigrations(ctx context.Context) ([]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: applied migrations: %w", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: applied migrations: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: applied migrations: %w", err)
	}
	return vs, nil
}
