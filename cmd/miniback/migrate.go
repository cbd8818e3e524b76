package main

import (
	"context"
	"fmt"
	"io"
)

// runMigrate applies the database migrations and exits.
func runMigrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("migrate", args, environ, stderr, nil)
	if err != nil {
		return err
	}
	privateUmask()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.ApplyMigrations(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "migrations applied: %d new %v\n", len(applied), applied)
	return err
}
