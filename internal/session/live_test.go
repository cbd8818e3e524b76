package session

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/state/memory"
)

// flakyState is a state store whose Get can be made to fail.
type flakyState struct {
	miniback.StateStore
	fail bool
}

func (f *flakyState) Get(ctx context.Context, key string) (string, bool, error) {
	if f.fail {
		return "", false, errors.New("state store down")
	}
	return f.StateStore.Get(ctx, key)
}

// countingRead is a store read that counts its calls.
type countingRead struct{ n int }

func (c *countingRead) read(_ context.Context, id string) (*miniback.Session, *miniback.User, error) {
	c.n++
	if id == "missing" {
		return nil, nil, miniback.Errorf(miniback.ECodeNotFound, "session not found")
	}
	return &miniback.Session{ID: id, UserID: 7, ExpiresAt: time.Now().Add(time.Hour)}, &miniback.User{ID: 7, Nickname: "n"}, nil
}

func TestLiveCache(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	state := &flakyState{StateStore: memory.New()}
	encoded := 0
	l := &Live{State: state, MaxAge: time.Second, MaxEntries: 10, Now: func() time.Time { return now },
		Encode: func(u *miniback.User) []byte { encoded++; return []byte(u.Nickname) }}
	var c countingRead
	get := func(user int64, id string) (*miniback.Session, *miniback.User, error) {
		a, err := l.SessionUser(ctx, user, id, c.read)
		return a.Session, a.User, err
	}

	for range 3 {
		if _, u, err := get(7, "s1"); err != nil || u.Nickname != "n" {
			t.Fatal(u, err)
		}
	}
	if c.n != 1 {
		t.Fatalf("%d reads for three lookups; want 1", c.n)
	}
	if a, _ := l.SessionUser(ctx, 7, "s1", c.read); string(a.UserJSON) != "n" || encoded != 1 {
		t.Fatalf("user JSON %q after %d encodings; want it rendered once", a.UserJSON, encoded)
	}
	// Copies: a caller changing its answer does not change the cache.
	_, u, _ := get(7, "s1")
	u.Nickname = "changed by a caller"
	if _, u, _ = get(7, "s1"); u.Nickname != "n" {
		t.Errorf("cache shared its value: %q", u.Nickname)
	}

	if err := l.Changed(ctx, 7); err != nil {
		t.Fatal(err)
	}
	get(7, "s1")
	if c.n != 2 {
		t.Fatalf("Changed did not invalidate: %d reads", c.n)
	}

	now = now.Add(time.Second)
	get(7, "s1")
	if c.n != 3 {
		t.Fatalf("an entry outlived MaxAge: %d reads", c.n)
	}

	// A token whose user is not the session's is never served from cache.
	get(8, "s1")
	get(8, "s1")
	if c.n != 5 {
		t.Errorf("mismatched user served from cache: %d reads", c.n)
	}

	// Not found is not cached.
	get(7, "missing")
	if _, _, err := get(7, "missing"); !miniback.IsNotFound(err) || c.n != 7 {
		t.Errorf("missing session: %v after %d reads", err, c.n)
	}

	// State store down: the database decides every time.
	state.fail = true
	get(7, "s1")
	get(7, "s1")
	if c.n != 9 {
		t.Errorf("cache used while the state store was down: %d reads", c.n)
	}
	state.fail = false

	// Bounded.
	for i := range 100 {
		get(7, fmt.Sprintf("b%d", i))
	}
	l.mu.RLock()
	n := len(l.entries)
	l.mu.RUnlock()
	if n > 10 {
		t.Errorf("%d entries; bound 10", n)
	}
}

// TestLiveSessionsWithoutReader: a store that cannot say whose session a
// refresh revokes is not cached.
func TestLiveSessionsWithoutReader(t *testing.T) {
	l := &Live{State: memory.New()}
	var plain struct{ miniback.SessionStore }
	if l.Sessions(plain) != nil {
		t.Error("a store without SessionReader was wrapped for caching")
	}
}
