package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/state/redis"
	"github.com/miniback/miniback/internal/state/redis/redistest"
	"github.com/miniback/miniback/internal/state/statetest"
)

// open returns an OpenFunc on the servers of rawURL: each test gets its own
// key prefix, and its advance fast-forwards the expiry of the test's keys
// (shortens each key's PTTL by d, deleting those it ends) instead of
// sleeping.
func open(rawURL string) statetest.OpenFunc {
	return func(t *testing.T) (miniback.StateStore, func(time.Duration)) {
		prefix := "statetest:" + rand.Text()[:10] + ":"
		s := mustOpen(t, rawURL, prefix)
		return s, func(d time.Duration) { fastForward(t, s, d) }
	}
}

func mustOpen(t *testing.T, rawURL, prefix string) *redis.Store {
	t.Helper()
	ctx := context.Background()
	s, err := redis.Open(ctx, rawURL, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		eachKey(t, s, func(c goredis.Cmdable, k string) { c.Del(ctx, k) })
		s.Close()
	})
	return s
}

// eachKey calls fn for every key under the store's prefix, on every master.
func eachKey(t *testing.T, s *redis.Store, fn func(c goredis.Cmdable, key string)) {
	t.Helper()
	ctx := context.Background()
	scan := func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, s.Prefix()+"*", 100).Iterator()
		for iter.Next(ctx) {
			fn(c, iter.Val())
		}
		return iter.Err()
	}
	var err error
	switch c := s.Client().(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Errorf("scan %s*: %v", s.Prefix(), err)
	}
}

// fastForward makes d pass for every key of s that has an expiry.
func fastForward(t *testing.T, s *redis.Store, d time.Duration) {
	ctx := context.Background()
	eachKey(t, s, func(c goredis.Cmdable, k string) {
		left, err := c.PTTL(ctx, k).Result()
		if err != nil || left < 0 { // no expiry, or gone
			return
		}
		if left <= d {
			c.Del(ctx, k)
		} else {
			c.PExpire(ctx, k, left-d)
		}
	})
}

func TestConformanceSingle(t *testing.T) {
	statetest.Run(t, open(redistest.URL(t)))
}

func TestConformanceSentinel(t *testing.T) {
	g := redistest.StartSentinel(t)
	statetest.Run(t, open(g.URL(0)))
}

// TestCluster runs the suite on a Redis Cluster, then checks that a
// store's keys spread over the cluster's slots and that keys sharing a hash
// tag share a slot.
func TestCluster(t *testing.T) {
	u, _ := redistest.StartCluster(t)
	t.Run("Conformance", func(t *testing.T) { statetest.Run(t, open(u)) })
	t.Run("KeysSpreadAndTagsHold", func(t *testing.T) { testSpread(t, u) })
}

// TestSentinelFailover kills the master: after at most a few errors while
// the sentinels promote the replica, the store works again on the new
// master without being reopened.
func TestSentinelFailover(t *testing.T) {
	g := redistest.StartSentinel(t)
	s := mustOpen(t, g.URL(0), "failover:"+rand.Text()[:8]+":")
	ctx := context.Background()
	if err := s.Set(ctx, "k", "before", 0); err != nil {
		t.Fatal(err)
	}
	// Wait for the replica to hold the key before the master dies.
	waitUntil(t, 10*time.Second, func() bool {
		v, _ := redistest.Command(g.Replica.Addr, "GET", s.Prefix()+"k")
		return v == "before"
	})
	g.Master.Kill()
	failures := 0
	waitUntil(t, 30*time.Second, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := s.Set(cctx, "k", "after", 0); err != nil {
			failures++
			return false
		}
		return true
	})
	// The sentinels learn of the promotion from each other, so the one
	// MasterAddr asks may lag behind the one the client followed: wait for
	// it, then check that the write landed on the promoted replica itself.
	waitUntil(t, 10*time.Second, func() bool { return g.MasterAddr() == g.Replica.Addr })
	if v, _ := redistest.Command(g.Replica.Addr, "GET", s.Prefix()+"k"); v != "after" {
		t.Fatalf("promoted replica holds %q, want the write made after the failover", v)
	}
	v, ok, err := s.Get(ctx, "k")
	if err != nil || !ok || v != "after" {
		t.Fatalf("Get after failover = %q %v %v", v, ok, err)
	}
	t.Logf("%d failed writes during the failover", failures)
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testSpread checks that keys spread over the slots of the cluster at u and
// that tagged keys do not.
func testSpread(t *testing.T, u string) {
	s := mustOpen(t, u, "spread:")
	ctx := context.Background()
	cc := s.Client().(*goredis.ClusterClient)
	slots := map[int64]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := s.Set(ctx, k, "v", time.Minute); err != nil {
			t.Fatal(err)
		}
		n, err := cc.ClusterKeySlot(ctx, s.Prefix()+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[n] = true
	}
	if len(slots) < 2 {
		t.Errorf("8 keys in %d slot(s): the prefix must not be a hash tag", len(slots))
	}
	a, _ := cc.ClusterKeySlot(ctx, s.Prefix()+"wechat:{wx1}:token").Result()
	b, _ := cc.ClusterKeySlot(ctx, s.Prefix()+"wechat:{wx1}:token-lock").Result()
	if a != b {
		t.Errorf("keys tagged {wx1} in slots %d and %d", a, b)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want redis.Target
	}{
		{"redis://127.0.0.1", redis.Target{Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://:pw@h:7000/3", redis.Target{Addrs: []string{"h:7000"}, Password: "pw", DB: 3}},
		{"rediss://u:pw@h/0", redis.Target{TLS: true, Addrs: []string{"h:6379"}, Username: "u", Password: "pw"}},
		{"redis+sentinel://:pw@a:26379,b/mymaster/2", redis.Target{Topology: redis.Sentinel, Addrs: []string{"a:26379", "b:26379"}, Password: "pw", Master: "mymaster", DB: 2}},
		{"redis+cluster://a:7000,b:7001,c:7002", redis.Target{Topology: redis.Cluster, Addrs: []string{"a:7000", "b:7001", "c:7002"}}},
	}
	for _, tt := range tests {
		got, err := redis.ParseURL(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if got.Topology != tt.want.Topology || got.TLS != tt.want.TLS || strings.Join(got.Addrs, ",") != strings.Join(tt.want.Addrs, ",") ||
			got.Username != tt.want.Username || got.Password != tt.want.Password || got.Master != tt.want.Master || got.DB != tt.want.DB {
			t.Errorf("%s: %+v, want %+v", tt.url, *got, tt.want)
		}
	}
	for _, bad := range []string{
		"memcached://:s3cretpw@h", "redis://:s3cretpw@", "redis://:s3cretpw@h:notaport", "redis://:s3cretpw@h/x",
		"redis://:s3cretpw@a,b", "redis+sentinel://:s3cretpw@a:26379", "redis+cluster://:s3cretpw@a:7000/1", "s3cretpw",
	} {
		_, err := redis.ParseURL(bad)
		if !errors.Is(err, redis.ErrBadURL) || strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("%s: error %v, want ErrBadURL without the password", bad, err)
		}
	}
}

// TestOpenUnreachable checks that Open fails on a dead server and a wrong
// password without showing the password.
func TestOpenErrors(t *testing.T) {
	u := redistest.URL(t)
	for _, raw := range []string{
		"redis://:s3cretpw@127.0.0.1:1/0",
		strings.Replace(u, "redis://", "redis://default:s3cretpw@", 1),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := redis.Open(ctx, raw, redis.Options{DialTimeout: time.Second})
		cancel()
		if err == nil {
			s.Close()
			if strings.Contains(raw, ":1/") {
				t.Errorf("Open(%s) succeeded", raw)
			}
			continue // the shared server may have no password at all
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// TestIncrManyAfterScriptFlush checks that IncrMany counts each counter
// exactly once when the server has forgotten the script (a restart, a
// SCRIPT FLUSH): the pipelined calls that met NOSCRIPT are sent again with
// the script's text, the others are not repeated.
func TestIncrManyAfterScriptFlush(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, redistest.URL(t), "statetest:"+rand.Text()[:10]+":")
	keys := []string{"a", "b", "c"}
	for round := int64(1); round <= 2; round++ {
		if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := s.IncrMany(ctx, keys, []int64{1, 2, 3}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if want := []int64{round, 2 * round, 3 * round}; !slices.Equal(got, want) {
			t.Fatalf("round %d: %v, want %v", round, got, want)
		}
	}
}
