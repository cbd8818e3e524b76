package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlite"
)

// lockFile takes the write lock of the SQLite file at path on a separate
// connection, as another process would, until the returned func runs.
func lockFile(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			other.Close()
		}
	}
	t.Cleanup(release)
	return release
}

// TestWritesUnavailableWhenLocked: with the file locked by another process
// past the busy timeout, every kind of write (a transaction, a plain
// statement, a RETURNING row) and the readiness probe fail with an Error of
// code unavailable, never an unclassified (500) error; reads still work
// (issue #6 item 4).
func TestWritesUnavailableWhenLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	db := sqlite.NewDB(path)
	db.BusyTimeout = 50 * time.Millisecond
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	users, sessions, messages := sqlite.NewUserStore(db), sqlite.NewSessionStore(db), sqlite.NewMessageStore(db)
	u, _, err := users.UpsertLogin(ctx, "wxa", "o1", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe before the lock: %v", err)
	}

	release := lockFile(t, path)
	nick := "n"
	writes := map[string]func() error{
		"login transaction": func() error {
			_, _, err := sessions.Login(ctx, &miniback.Login{AppID: "wxa", OpenID: "o2", Now: time.Now(),
				Session:      &miniback.Session{ID: "s1", AppID: "wxa", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
				RefreshToken: &miniback.RefreshToken{Hash: []byte("h1"), ExpiresAt: time.Now().Add(time.Hour)},
				Seal:         func(*miniback.User) ([]byte, error) { return []byte("k"), nil }})
			return err
		},
		"plain statement": func() error {
			return messages.CreateMessage(ctx, &miniback.Message{ID: "m1", AppID: "wxa", Kind: miniback.KindCustomer,
				OpenID: "o1", Payload: []byte(`{}`), Status: miniback.MessageQueued, CreatedAt: time.Now()})
		},
		"returning row": func() error {
			_, err := users.UpdateUser(ctx, "wxa", u.ID, miniback.UserUpdate{Nickname: &nick})
			return err
		},
		"readiness probe": func() error { return db.ProbeWrite(ctx) },
	}
	for name, write := range writes {
		if code := miniback.ErrorCode(write()); code != miniback.ECodeUnavailable {
			t.Errorf("%s: code %q, want unavailable", name, code)
		}
	}
	if _, err := users.User(ctx, "wxa", u.ID); err != nil {
		t.Errorf("a read failed under a write lock: %v", err)
	}
	release()
	if err := db.ProbeWrite(ctx); err != nil {
		t.Fatalf("probe after the lock: %v", err)
	}
	if _, _, err := users.UpsertLogin(ctx, "wxa", "o3", "", time.Now()); err != nil {
		t.Fatalf("write after the lock: %v", err)
	}
}
