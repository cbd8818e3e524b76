package miniback

import (
	"context"
	"time"
)

// StateStore holds short-lived shared state: cached WeChat tokens, locks,
// counters and duplicate markers. The in-process implementation serves one
// instance; the Redis one shares the state across instances. Every method is
// safe for concurrent use. A ttl of 0 means no expiry.
type StateStore interface {
	// Get returns the value of key and whether it exists.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Set stores value under key.
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// SetNX stores value only when key is absent and reports whether it did.
	SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error)
	// Delete removes key; removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteIfEqual removes key only while it holds value and reports whether it did.
	DeleteIfEqual(ctx context.Context, key, value string) (bool, error)
	// SetIfEqual replaces the value of key with value, expiring after ttl,
	// only while key holds old, and reports whether it did: a
	// compare-and-set in one atomic step. An absent or expired key holds
	// nothing, so it is never set (use SetNX for that).
	SetIfEqual(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error)
	// Incr adds one to the counter at key and returns the new value; a new
	// counter expires after ttl.
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// IncrMany adds ns[i] (at least 1) to the counter at keys[i] for every
	// i and returns the new values, in one round trip where calls of Incr
	// would make one each; a new counter expires after ttl. Each counter's
	// step is atomic; the steps are not one transaction together.
	IncrMany(ctx context.Context, keys []string, ns []int64, ttl time.Duration) ([]int64, error)
	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}
