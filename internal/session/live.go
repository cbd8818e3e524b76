package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/miniback/miniback"
)

// Live caches, per instance, the revocation check of authenticated
// requests: a session with its user, as the store last read them. An entry
// is used only while the user's generation marker in the state store is
// the one read before the entry was filled, and only for MaxAge.
//
// Every write that can change a user's row or sessions (login, key
// replacement, refresh, revocation, profile and phone updates) goes
// through the stores Live wraps (Sessions, Users), which set a new random
// marker once the write committed and before the write returns. So a
// request that starts after a logout answered reads a marker the cached
// entry does not hold, on every instance sharing the state store, and
// reads the database again: revocation stays immediate. In-process state
// is one instance; with Redis every instance sees the same markers.
//
// If the marker cannot be read, the database decides and nothing is
// cached. If it cannot be written after a committed write, the write's
// caller gets the error, and another instance may serve its cached entry
// for at most MaxAge: the one case in which a revocation is not immediate.
//
// Live is safe for concurrent use; set its fields before first use.
type Live struct {
	State      miniback.StateStore
	MaxAge     time.Duration // default 2 s
	MaxEntries int           // default 20,000; beyond it a tenth is dropped
	Now        func() time.Time
	// Encode, when set, renders a user as its answer body once per entry
	// (GET /me then writes the cached bytes).
	Encode func(*miniback.User) []byte

	once    sync.Once
	mu      sync.RWMutex
	entries map[string]liveEntry // by session id
}

type liveEntry struct {
	marker string
	sess   *miniback.Session
	user   *miniback.User
	body   []byte // Encode(user), shared read-only
	filled time.Time
}

// LiveAnswer is what Live.SessionUser returns: copies of the session and
// its user the caller may keep, and the user's encoding (nil without
// Live.Encode), which the caller must not modify.
type LiveAnswer struct {
	Session  *miniback.Session
	User     *miniback.User
	UserJSON []byte
}

func (l *Live) init() {
	l.once.Do(func() {
		if l.MaxAge <= 0 {
			l.MaxAge = 2 * time.Second
		}
		if l.MaxEntries <= 0 {
			l.MaxEntries = 20_000
		}
		if l.Now == nil {
			l.Now = time.Now
		}
		l.entries = make(map[string]liveEntry)
	})
}

// markerTTL outlives every entry, so a marker that expires cannot bring an
// entry filled before it back to life.
func (l *Live) markerTTL() time.Duration { return max(10*time.Second, 5*l.MaxAge) }

func markerKey(userID int64) string {
	return "miniback:session:live:" + strconv.FormatInt(userID, 10)
}

// SessionUser returns session id of user userID with its user: from the
// cache when nothing changed them since it was filled, else from read
// (whose answer is cached when the session is the user's).
func (l *Live) SessionUser(ctx context.Context, userID int64, id string, read func(context.Context, string) (*miniback.Session, *miniback.User, error)) (LiveAnswer, error) {
	l.init()
	marker, _, err := l.State.Get(ctx, markerKey(userID))
	if err != nil {
		sess, user, err := read(ctx, id) // the database decides; nothing cached
		return LiveAnswer{Session: sess, User: user}, err
	}
	now := l.Now()
	l.mu.RLock()
	e, ok := l.entries[id]
	l.mu.RUnlock()
	if !ok || e.marker != marker || now.Sub(e.filled) >= l.MaxAge || e.sess.UserID != userID {
		sess, user, err := read(ctx, id)
		if err != nil || sess.UserID != userID {
			return LiveAnswer{Session: sess, User: user}, err
		}
		e = liveEntry{marker: marker, sess: sess, user: user, filled: now}
		if l.Encode != nil {
			e.body = l.Encode(user)
		}
		l.put(id, e)
	}
	s, u := *e.sess, *e.user
	return LiveAnswer{Session: &s, User: &u, UserJSON: e.body}, nil
}

func (l *Live) put(id string, e liveEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= l.MaxEntries {
		n := l.MaxEntries / 10
		for k := range l.entries { // map order: an arbitrary tenth
			delete(l.entries, k)
			if n--; n <= 0 {
				break
			}
		}
	}
	l.entries[id] = e
}

// Changed records that the user's row or sessions changed: every entry of
// the user, on every instance, is stale from now on.
func (l *Live) Changed(ctx context.Context, userID int64) error {
	l.init()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	if err := l.State.Set(ctx, markerKey(userID), hex.EncodeToString(b), l.markerTTL()); err != nil {
		return fmt.Errorf("session: mark user %d changed: %w", userID, err)
	}
	return nil
}
