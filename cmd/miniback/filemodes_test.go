//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/miniback/miniback/internal/config"
)

// TestDataDirIsPrivate: in a data_dir that already exists as 0755, and
// under the usual umask 022, everything miniback creates (SQLite file and
// its -wal/-shm, keys, the embedded queue's storage) is 0600 and every
// folder 0700 (issue #6 item 5).
func TestDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := startMain(t, func(c *config.Config) {
		c.DataDir = dir
		c.Database.URL = "sqlite://" + dir + "/miniback.db"
	})
	e.login("olga") // writes: the WAL exists
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if perm := fi.Mode().Perm(); perm&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", path, perm, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"miniback.db", "miniback.db-wal", "signing_key.pem", "seal.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if files < 5 {
		t.Errorf("only %d files under data_dir; the queue's storage is missing", files)
	}
}
