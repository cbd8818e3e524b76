// Package memory is the in-process miniback.StateStore: a map guarded by a
// mutex, for a single instance of miniback.
//
// Entries expire by the store's injectable clock. An expired entry is
// dropped when it is next touched, and writes sweep the whole map at most
// once per SweepInterval of clock time, so keys that are never read again do
// not pile up. The store starts no goroutine.
package memory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/miniback/miniback"
)

var _ miniback.StateStore = (*Store)(nil)

// DefaultSweepInterval is how often, in clock time, writes sweep expired
// entries unless Store.SweepInterval says otherwise.
const DefaultSweepInterval = time.Minute

// Store is an in-process StateStore. Set Now and SweepInterval before first
// use. It is safe for concurrent use.
type Store struct {
	// Now returns the current time; tests replace it to move time.
	Now func() time.Time
	// SweepInterval is the least clock time between two sweeps of expired
	// entries; 0 means DefaultSweepInterval.
	SweepInterval time.Duration

	mu        sync.Mutex
	m         map[string]entry
	lastSweep time.Time
	closed    bool
}

// entry is one value; a zero expires means it never expires.
type entry struct {
	value   string
	expires time.Time
}

// expired reports whether e has expired at now.
func (e entry) expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

// New returns an empty Store on the wall clock.
func New() *Store {
	return &Store{Now: time.Now, m: make(map[string]entry)}
}

// errClosed is returned by every method after Close.
var errClosed = errors.New("memory: store is closed")

// lock takes the mutex and returns the current time, or errClosed without
// the mutex held.
func (s *Store) lock() (time.Time, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return time.Time{}, errClosed
	}
	if s.m == nil {
		s.m = make(map[string]entry)
	}
	if s.Now == nil {
		return time.Now(), nil
	}
	return s.Now(), nil
}

// get returns the live entry of key, dropping it when expired. s.mu is held.
func (s *Store) get(key string, now time.Time) (entry, bool) {
	e, ok := s.m[key]
	if ok && e.expired(now) {
		delete(s.m, key)
		return entry{}, false
	}
	return e, ok
}

// put stores value under key with ttl and sweeps when one is due. s.mu is
// held.
func (s *Store) put(key, value string, ttl time.Duration, now time.Time) {
	e := entry{value: value}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	s.m[key] = e
	s.sweep(now)
}

// sweep drops every expired entry, at most once per SweepInterval. s.mu is
// held.
func (s *Store) sweep(now time.Time) {
	every := s.SweepInterval
	if every <= 0 {
		every = DefaultSweepInterval
	}
	if now.Sub(s.lastSweep) < every {
		return
	}
	s.lastSweep = now
	for k, e := range s.m {
		if e.expired(now) {
			delete(s.m, k)
		}
	}
}

// checkTTL rejects a negative ttl.
func checkTTL(op string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memory: %s: negative ttl %v", op, ttl)
	}
	return nil
}

// Get implements miniback.StateStore.
func (s *Store) Get(ctx context.Context, key string) (string, bool, error) {
	now, err := s.lock()
	if err != nil {
		return "", false, err
	}
	defer s.mu.Unlock()
	e, ok := s.get(key, now)
	return e.value, ok, nil
}

// Set implements miniback.StateStore. A negative ttl is an error.
func (s *Store) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := checkTTL("set", ttl); err != nil {
		return err
	}
	now, err := s.lock()
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.put(key, value, ttl, now)
	return nil
}

// SetNX implements miniback.StateStore. An expired key counts as absent.
// A negative ttl is an error.
func (s *Store) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := checkTTL("setnx", ttl); err != nil {
		return false, err
	}
	now, err := s.lock()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if _, ok := s.get(key, now); ok {
		return false, nil
	}
	s.put(key, value, ttl, now)
	return true, nil
}

// Delete implements miniback.StateStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.lock(); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// DeleteIfEqual implements miniback.StateStore.
func (s *Store) DeleteIfEqual(ctx context.Context, key, value string) (bool, error) {
	now, err := s.lock()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	e, ok := s.get(key, now)
	if !ok || e.value != value {
		return false, nil
	}
	delete(s.m, key)
	return true, nil
}

// SetIfEqual implements miniback.StateStore. A negative ttl is an error.
func (s *Store) SetIfEqual(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if err := checkTTL("set if equal", ttl); err != nil {
		return false, err
	}
	now, err := s.lock()
	if err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if e, ok := s.get(key, now); !ok || e.value != old {
		return false, nil
	}
	s.put(key, value, ttl, now)
	return true, nil
}

// Incr implements miniback.StateStore.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	v, err := s.IncrMany(ctx, []string{key}, []int64{1}, ttl)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// IncrMany implements miniback.StateStore, under one lock. Incrementing
// keeps the expiry a counter was created with. A value that is not a
// decimal int64, or one that its step would carry past the maximum, is an
// error and it and the counters after it stay as they are. A negative ttl,
// a step below 1 or keys and ns of different lengths are errors.
func (s *Store) IncrMany(ctx context.Context, keys []string, ns []int64, ttl time.Duration) ([]int64, error) {
	if err := checkTTL("incr", ttl); err != nil {
		return nil, err
	}
	if len(keys) != len(ns) {
		return nil, fmt.Errorf("memory: incr: %d keys, %d steps", len(keys), len(ns))
	}
	for i, n := range ns {
		if n < 1 {
			return nil, fmt.Errorf("memory: incr %q: step %d is below 1", keys[i], n)
		}
	}
	now, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]int64, len(keys))
	for i, key := range keys {
		n := ns[i]
		e, ok := s.get(key, now)
		if !ok {
			s.put(key, strconv.FormatInt(n, 10), ttl, now)
			out[i] = n
			continue
		}
		v, err := strconv.ParseInt(e.value, 10, 64)
		if err != nil || v > maxInt64-n {
			return nil, fmt.Errorf("memory: incr %q: value is not an integer or out of range", key)
		}
		e.value = strconv.FormatInt(v+n, 10)
		s.m[key] = e
		out[i] = v + n
	}
	return out, nil
}

// maxInt64 is the largest counter value.
const maxInt64 = 1<<63 - 1

// Ping implements miniback.StateStore: it fails only after Close.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.lock(); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close drops every entry; later calls of other methods return an error.
// Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m = nil
	return nil
}

// Len returns the number of entries held, expired or not, for tests and
// metrics.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
