package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniback/miniback"
)

// TestUnavailableClassifiesDriverErrors: the driver's own errors for a
// full disk and a read-only file, made for real, are unavailable (503),
// not internal (issue #6 item 4; the locked file is
// TestWritesUnavailableWhenLocked).
func TestUnavailableClassifiesDriverErrors(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	setup, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	if _, err := setup.ExecContext(ctx, `CREATE TABLE t (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dsn, pragma string
	}{
		// max_page_count at the file's size: SQLite answers SQLITE_FULL
		// exactly as on a full disk.
		{"disk full", path, "PRAGMA max_page_count = 2"},
		{"read-only file", "file:" + path + "?mode=ro", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("sqlite", tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			if tt.pragma != "" {
				if _, err := db.ExecContext(ctx, tt.pragma); err != nil {
					t.Fatal(err)
				}
			}
			_, err = db.ExecContext(ctx, `INSERT INTO t (b) VALUES (?)`, []byte(strings.Repeat("x", 64<<10)))
			if err == nil {
				t.Fatal("the write succeeded")
			}
			if code := miniback.ErrorCode(unavailable(err)); code != miniback.ECodeUnavailable {
				t.Fatalf("%v: code %q, want unavailable", err, code)
			}
		})
	}
}
