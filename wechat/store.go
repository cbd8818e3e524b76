package wechat

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// TokenStore holds the cached access token, the fetch lock and the
// force-refresh budget. Instances that share one store (e.g. Redis) share
// tokens and fetch them one at a time. Every method must be safe for
// concurrent use; a ttl of 0 means no expiry. miniback.StateStore satisfies
// it.
type TokenStore interface {
	// Get returns the value of key and whether it exists.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Set stores value under key.
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// SetNX stores value only when key is absent and reports whether it did.
	SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error)
	// DeleteIfEqual removes key only while it holds value and reports
	// whether it did.
	DeleteIfEqual(ctx context.Context, key, value string) (bool, error)
	// SetIfEqual replaces the value of key with value only while key holds
	// old, in one atomic step, and reports whether it did; an absent key is
	// never set.
	SetIfEqual(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error)
	// Incr adds one to the counter at key and returns the new value; a new
	// counter expires after ttl.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
}

// MemoryTokenStore is a TokenStore held in process memory, for a single
// instance. It is safe for concurrent use.
type MemoryTokenStore struct {
	mu  sync.Mutex
	m   map[string]memEntry
	now func() time.Time
}

type memEntry struct {
	value   string
	expires time.Time // zero: never
}

var _ TokenStore = (*MemoryTokenStore)(nil)

// NewMemoryTokenStore returns an empty in-process store.
func NewMemoryTokenStore() *MemoryTokenStore {
	return &MemoryTokenStore{m: make(map[string]memEntry), now: time.Now}
}

// get returns the live entry at key; the caller holds mu.
func (s *MemoryTokenStore) get(key string) (memEntry, bool) {
	e, ok := s.m[key]
	if ok && !e.expires.IsZero() && !s.now().Before(e.expires) {
		delete(s.m, key)
		return memEntry{}, false
	}
	return e, ok
}

func (s *MemoryTokenStore) put(key, value string, ttl time.Duration) {
	e := memEntry{value: value}
	if ttl > 0 {
		e.expires = s.now().Add(ttl)
	}
	s.m[key] = e
}

// Get returns the value of key and whether it exists. It never fails.
func (s *MemoryTokenStore) Get(_ context.Context, key string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.get(key)
	return e.value, ok, nil
}

// Set stores value under key. It never fails.
func (s *MemoryTokenStore) Set(_ context.Context, key, value string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(key, value, ttl)
	return nil
}

// SetNX stores value only when key is absent and reports whether it did.
func (s *MemoryTokenStore) SetNX(_ context.Context, key, value string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.get(key); ok {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

// DeleteIfEqual removes key only while it holds value.
func (s *MemoryTokenStore) DeleteIfEqual(_ context.Context, key, value string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); !ok || e.value != value {
		return false, nil
	}
	delete(s.m, key)
	return true, nil
}

// SetIfEqual replaces the value of key only while it holds old. It never
// fails.
func (s *MemoryTokenStore) SetIfEqual(_ context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.get(key); !ok || e.value != old {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

// Incr adds one to the counter at key; a new counter expires after ttl. It
// fails when key holds something other than an integer.
func (s *MemoryTokenStore) Incr(_ context.Context, key string, ttl time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.get(key)
	if !ok {
		s.put(key, "1", ttl)
		return 1, nil
	}
	n, err := strconv.ParseInt(e.value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("wechat: memory store: %s is not a counter", key)
	}
	e.value = strconv.FormatInt(n+1, 10)
	s.m[key] = e
	return n + 1, nil
}
