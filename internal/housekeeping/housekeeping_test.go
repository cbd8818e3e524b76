package housekeeping_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/housekeeping"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/store/sqlite"
)

func openDB(t *testing.T) *sqlite.DB {
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "hk.db"))
	if err := db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestPass checks the cut-offs of one pass against the settings, with
// several batches per purge.
func TestPass(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	users, sessions := sqlite.NewUserStore(db), sqlite.NewSessionStore(db)
	inbox, msgs, media := sqlite.NewInboxStore(db), sqlite.NewMessageStore(db), sqlite.NewMediaStore(db)
	u, _, err := users.UpsertLogin(ctx, "wx1", "o1", "", now)
	if err != nil {
		t.Fatal(err)
	}
	session := func(id string, expires time.Time) {
		err := sessions.CreateSession(ctx, &miniback.Session{ID: id, AppID: "wx1", UserID: u.ID, CreatedAt: now.AddDate(0, -3, 0), ExpiresAt: expires},
			&miniback.RefreshToken{Hash: []byte(id), ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
	}
	session("expired-2d", now.Add(-48*time.Hour)) // purged: a day past expiry
	session("expired-1h", now.Add(-time.Hour))    // kept
	session("revoked-long", now.Add(time.Hour))
	if err := sessions.RevokeSession(ctx, "revoked-long", now.Add(-40*24*time.Hour)); err != nil { // > refresh_ttl + 1d
		t.Fatal(err)
	}
	for i := range 5 {
		m := &miniback.InboxMessage{AppID: "wx1", DedupKey: string(rune('a' + i)), ReceivedAt: now.AddDate(0, 0, -31)}
		if _, err := inbox.AddInbox(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := inbox.FinishInbox(ctx, m.ID, miniback.InboxHandled, "", now); err != nil {
			t.Fatal(err)
		}
	}
	m := &miniback.Message{ID: "m1", AppID: "wx1", Kind: miniback.KindCustomer, OpenID: "o1", CreatedAt: now.AddDate(0, 0, -31)}
	if err := msgs.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"c1", "c2", "c3"} {
		if err := media.PutCode(ctx, &miniback.Code{AppID: "wx1", Key: k, Image: []byte(k), CreatedAt: now.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	h := housekeeping.New(housekeeping.Config{Store: sqlite.NewPurgeStore(db), State: memory.New(),
		RefreshTTL: 30 * 24 * time.Hour, Inbox: 30 * 24 * time.Hour, Messages: 30 * 24 * time.Hour,
		CodesMax: 1, Batch: 2, Now: func() time.Time { return now }})
	r, err := h.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := housekeeping.Report{Sessions: 2, Inbox: 5, Messages: 0, Codes: 2}
	if r != want {
		t.Fatalf("report %+v, want %+v (a queued message is never purged)", r, want)
	}
	if _, err := sessions.Session(ctx, "expired-1h"); err != nil {
		t.Fatalf("a session expired an hour ago was purged: %v", err)
	}
	if _, err := media.Code(ctx, "wx1", "c3"); err != nil {
		t.Fatalf("the most recent code was trimmed: %v", err)
	}
}

// TestOncePerWindow runs the loop of three housekeepers sharing one state
// store: each window of the interval gets one pass, not three.
func TestOncePerWindow(t *testing.T) {
	db := openDB(t)
	state := memory.New()
	passes := make(chan struct{}, 100)
	store := countingStore{PurgeStore: sqlite.NewPurgeStore(db), passes: passes}
	ctx, cancel := context.WithTimeout(context.Background(), 1050*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	for range 3 {
		h := housekeeping.New(housekeeping.Config{Store: store, State: state, Interval: 100 * time.Millisecond,
			RefreshTTL: time.Hour, Inbox: time.Hour, Messages: time.Hour, CodesMax: 10})
		go func() { h.Run(ctx); done <- struct{}{} }()
	}
	for range 3 {
		<-done
	}
	if n := len(passes); n < 5 || n > 11 {
		t.Fatalf("%d passes in about 10 windows by 3 instances, want one per window", n)
	}
}

// countingStore counts passes: each pass trims codes once.
type countingStore struct {
	miniback.PurgeStore
	passes chan struct{}
}

func (s countingStore) TrimCodes(ctx context.Context, keep, limit int) (int, error) {
	s.passes <- struct{}{}
	return s.PurgeStore.TrimCodes(ctx, keep, limit)
}
