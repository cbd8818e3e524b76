package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// TestStatementsPrepared checks that the login transaction's statements are
// prepared on the write pool after the first login (the write connection
// was busy during it) and used by the next, and that a read that cannot
// be prepared fails with an error rather than a panic.
func TestStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	db := NewDB(filepath.Join(t.TempDir(), "m.db"))
	if err := db.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ss := NewSessionStore(db)
	login := func(id string) {
		l := &miniback.Login{AppID: "wxtest", OpenID: "o1", Now: time.Now(),
			Session:      &miniback.Session{ID: id, AppID: "wxtest", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
			RefreshToken: &miniback.RefreshToken{Hash: []byte(id), ExpiresAt: time.Now().Add(time.Hour)},
			Seal:         func(*miniback.User) ([]byte, error) { return []byte("sealed"), nil }}
		if _, _, err := ss.Login(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	login("s1")
	n := 0
	db.writeStmts.m.Range(func(any, any) bool { n++; return true })
	if n < 3 {
		t.Fatalf("%d write statements prepared after a new user's login; want the upsert, session and token statements", n)
	}
	login("s2")
	if _, u, err := ss.SessionUser(ctx, "s2"); err != nil || u.OpenID != "o1" {
		t.Fatalf("SessionUser: %+v %v", u, err)
	}
	if db.readStmts.get(sessionUserQuery) == nil {
		t.Error("the session-user read is not prepared")
	}
	var x int
	if err := db.readRow(ctx, "SELECT nothing FROM nowhere").Scan(&x); err == nil {
		t.Error("a query that cannot be prepared scanned without error")
	}
}
