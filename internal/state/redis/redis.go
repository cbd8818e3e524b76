// Package redis is the miniback.StateStore on Redis, through
// github.com/redis/go-redis/v9: one server, a master found through Redis
// Sentinel, or a Redis Cluster, as redis.url says. Several instances of
// miniback that share it share cached WeChat tokens, locks, counters and
// duplicate markers.
//
// Every key is stored under Prefix (redis.prefix), so several deployments
// can share one Redis. Each method touches one key, and the methods that
// must be atomic beyond one command (DeleteIfEqual, SetIfEqual, Incr with its expiry)
// are Lua scripts on that one key, so they hold on a Cluster too; callers
// that need several keys of one app on one cluster slot write the appid as
// a hash tag in their keys ("wechat:{wx123}:token").
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/miniback/miniback"
)

var _ miniback.StateStore = (*Store)(nil)

// Store is a StateStore on Redis. It is safe for concurrent use.
type Store struct {
	client goredis.UniversalClient
	prefix string
}

// Options tune Open; the zero value is usable.
type Options struct {
	// Prefix starts every key (redis.prefix).
	Prefix string
	// DialTimeout bounds each connection attempt; 0 means 5 s.
	DialTimeout time.Duration
	// Timeout bounds each command's reads and writes; 0 means 3 s.
	Timeout time.Duration
}

// Open connects to the servers rawURL names (see ParseURL) and checks that
// they answer. A URL it cannot parse is an error wrapping ErrBadURL; an
// unreachable server or a wrong password is the server's error. Neither
// shows the password.
func Open(ctx context.Context, rawURL string, o Options) (*Store, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Store{client: newClient(t, o), prefix: o.Prefix}
	if err := s.Ping(ctx); err != nil {
		s.client.Close()
		return nil, err
	}
	return s, nil
}

// newClient returns the go-redis client for t.
func newClient(t *Target, o Options) goredis.UniversalClient {
	dial, rw := o.DialTimeout, o.Timeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	if rw <= 0 {
		rw = 3 * time.Second
	}
	var tlsConfig *tls.Config
	if t.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch t.Topology {
	case Sentinel:
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: t.Master, SentinelAddrs: t.Addrs,
			Username: t.Username, Password: t.Password, DB: t.DB,
			DialTimeout: dial, ReadTimeout: rw, WriteTimeout: rw, TLSConfig: tlsConfig,
		})
	case Cluster:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: t.Addrs, Username: t.Username, Password: t.Password,
			DialTimeout: dial, ReadTimeout: rw, WriteTimeout: rw, TLSConfig: tlsConfig,
		})
	}
	return goredis.NewClient(&goredis.Options{
		Addr: t.Addrs[0], Username: t.Username, Password: t.Password, DB: t.DB,
		DialTimeout: dial, ReadTimeout: rw, WriteTimeout: rw, TLSConfig: tlsConfig,
	})
}

// Client is the underlying go-redis client, for tests and tools.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Prefix is the prefix of every key.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) key(k string) string { return s.prefix + k }

// checkTTL rejects a negative ttl.
func checkTTL(op string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("redis: %s: negative ttl %v", op, ttl)
	}
	return nil
}

// Get implements miniback.StateStore.
func (s *Store) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := s.client.Get(ctx, s.key(key)).Result()
	switch {
	case errors.Is(err, goredis.Nil):
		return "", false, nil
	case err != nil:
		return "", false, unavailable("get", err)
	}
	return v, true, nil
}

// Set implements miniback.StateStore.
func (s *Store) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := checkTTL("set", ttl); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.key(key), value, ttl).Err(); err != nil {
		return unavailable("set", err)
	}
	return nil
}

// SetNX implements miniback.StateStore with SET … NX.
func (s *Store) SetNX(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if err := checkTTL("setnx", ttl); err != nil {
		return false, err
	}
	err := s.client.SetArgs(ctx, s.key(key), value, goredis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case errors.Is(err, goredis.Nil):
		return false, nil
	case err != nil:
		return false, unavailable("setnx", err)
	}
	return true, nil
}

// Delete implements miniback.StateStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.Del(ctx, s.key(key)).Err(); err != nil {
		return unavailable("delete", err)
	}
	return nil
}

// deleteIfEqual deletes KEYS[1] while it holds ARGV[1]: the
// compare-and-delete that releases a lock only for its owner.
var deleteIfEqual = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)

// DeleteIfEqual implements miniback.StateStore with one Lua script.
func (s *Store) DeleteIfEqual(ctx context.Context, key, value string) (bool, error) {
	n, err := deleteIfEqual.Run(ctx, s.client, []string{s.key(key)}, value).Int64()
	if err != nil {
		return false, unavailable("delete if equal", err)
	}
	return n == 1, nil
}

// setIfEqual sets KEYS[1] to ARGV[2] while it holds ARGV[1], expiring
// after ARGV[3] milliseconds (0: never): a compare-and-set.
var setIfEqual = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	if tonumber(ARGV[3]) > 0 then
		redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
	else
		redis.call('SET', KEYS[1], ARGV[2])
	end
	return 1
end
return 0`)

// SetIfEqual implements miniback.StateStore with one Lua script.
func (s *Store) SetIfEqual(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	if err := checkTTL("set if equal", ttl); err != nil {
		return false, err
	}
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	n, err := setIfEqual.Run(ctx, s.client, []string{s.key(key)}, old, value, ms).Int64()
	if err != nil {
		return false, unavailable("set if equal", err)
	}
	return n == 1, nil
}

// incr adds ARGV[2] to KEYS[1] and, when that created it, sets its expiry
// of ARGV[1] milliseconds (0: none), in one step.
var incr = goredis.NewScript(`
local by = tonumber(ARGV[2])
local n = redis.call('INCRBY', KEYS[1], by)
if n == by and tonumber(ARGV[1]) > 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// Incr implements miniback.StateStore with one Lua script.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	v, err := s.IncrMany(ctx, []string{key}, []int64{1}, ttl)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// IncrMany implements miniback.StateStore: the Lua script once per
// counter, pipelined (on a Cluster, one pipeline per master). A counter
// whose script the server no longer holds (it restarted) is counted again
// with the script's text; the others are not repeated. A step below 1 or
// keys and ns of different lengths are errors.
func (s *Store) IncrMany(ctx context.Context, keys []string, ns []int64, ttl time.Duration) ([]int64, error) {
	if err := checkTTL("incr", ttl); err != nil {
		return nil, err
	}
	if len(keys) != len(ns) {
		return nil, fmt.Errorf("redis: incr: %d keys, %d steps", len(keys), len(ns))
	}
	for i, n := range ns {
		if n < 1 {
			return nil, fmt.Errorf("redis: incr %q: step %d is below 1", keys[i], n)
		}
	}
	if len(keys) == 1 {
		v, err := incr.Run(ctx, s.client, []string{s.key(keys[0])}, ttl.Milliseconds(), ns[0]).Int64()
		if err != nil {
			return nil, unavailable("incr", err)
		}
		return []int64{v}, nil
	}
	cmds := make([]*goredis.Cmd, len(keys))
	_, _ = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = incr.EvalSha(ctx, p, []string{s.key(k)}, ttl.Milliseconds(), ns[i])
		}
		return nil
	})
	var again []int
	for i, c := range cmds {
		if err := c.Err(); err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		_, _ = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, i := range again {
				cmds[i] = incr.Eval(ctx, p, []string{s.key(keys[i])}, ttl.Milliseconds(), ns[i])
			}
			return nil
		})
	}
	out := make([]int64, len(keys))
	for i, c := range cmds {
		v, err := c.Int64()
		if err != nil {
			return nil, unavailable("incr", err)
		}
		out[i] = v
	}
	return out, nil
}

// Ping implements miniback.StateStore: it writes and reads back a probe key
// (a replica or a server refusing writes fails it, not just a dead one).
// On a Cluster every master is probed.
func (s *Store) Ping(ctx context.Context) error {
	probe := func(ctx context.Context, c goredis.Cmdable) error {
		return c.Set(ctx, s.key("ping"), time.Now().UTC().Format(time.RFC3339), 10*time.Second).Err()
	}
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		})
		if err == nil {
			err = probe(ctx, cc)
		}
	} else {
		err = probe(ctx, s.client)
	}
	if err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// unavailable wraps a failed command: whatever Redis answers other than a
// value (a dead server, a timeout, READONLY on a replica, LOADING,
// CLUSTERDOWN) means the state store cannot serve now, an Error with code
// unavailable that the API answers 503.
func unavailable(op string, err error) error {
	return miniback.WrapError(miniback.ECodeUnavailable, "the state store is unavailable", fmt.Errorf("redis: %s: %w", op, err))
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redis: close: %w", err)
	}
	return nil
}
