package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	t.Run("SlotMove", func(t *testing.T) { testSlotMove(t, u) })
}

// testSlotMove moves the slot of one app's keys to another master, as
// `redis-cli --cluster reshard` does (IMPORTING, MIGRATING, MIGRATE of each
// key, then the new owner announced to every master), while a worker keeps
// counting, compare-and-setting and reading those keys through the store.
// The store follows the ASK and MOVED redirects: no operation fails, no
// step of the counter is lost or doubled, and afterwards the keys are
// served by the new owner.
func testSlotMove(t *testing.T, u string) {
	s := mustOpen(t, u, "move:"+rand.Text()[:8]+":")
	ctx := context.Background()
	cc := s.Client().(*goredis.ClusterClient)
	const counter, token = "rate:{wxmove}:n", "wechat:{wxmove}:token"
	slot, err := cc.ClusterKeySlot(ctx, s.Prefix()+counter).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var src, dst goredis.ClusterNode
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			src = r.Nodes[0]
		}
	}
	for _, r := range slots {
		if r.Nodes[0].ID != src.ID {
			dst = r.Nodes[0]
		}
	}
	if src.ID == "" || dst.ID == "" {
		t.Fatalf("no owner or no other master for slot %d in %+v", slot, slots)
	}
	if err := s.Set(ctx, token, "0", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The worker: one Incr, one SetIfEqual of the token to the counter's
	// value, and one Get per round, until stop.
	stop := make(chan struct{})
	rounds := make(chan int64, 1<<16)
	var failures []error
	incrs := 0 // successful Incr calls
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := "0"
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := s.Incr(ctx, counter, time.Hour)
			if err != nil {
				failures = append(failures, err)
				continue
			}
			incrs++
			next := strconv.FormatInt(n, 10)
			ok, err := s.SetIfEqual(ctx, token, last, next, time.Hour)
			if err != nil || !ok {
				failures = append(failures, fmt.Errorf("SetIfEqual %s→%s: %v %v", last, next, ok, err))
				continue
			}
			last = next
			if v, ok, err := s.Get(ctx, token); err != nil || !ok || v != next {
				failures = append(failures, fmt.Errorf("Get = %q %v %v, want %s", v, ok, err, next))
				continue
			}
			rounds <- n
		}
	}()
	// progress waits until the worker finished 20 more rounds.
	progress := func() {
		t.Helper()
		for range 20 {
			select {
			case <-rounds:
			case <-done:
				t.Fatalf("the worker stopped: %v", failures)
			case <-time.After(30 * time.Second):
				t.Fatal("the worker made no progress")
			}
		}
	}
	cmd := func(addr string, args ...string) {
		t.Helper()
		if _, err := redistest.Command(addr, args...); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	sl := strconv.FormatInt(slot, 10)
	progress()
	cmd(dst.Addr, "CLUSTER", "SETSLOT", sl, "IMPORTING", src.ID)
	cmd(src.Addr, "CLUSTER", "SETSLOT", sl, "MIGRATING", dst.ID)
	progress()
	host, port, _ := strings.Cut(dst.Addr, ":")
	for _, k := range []string{token, counter} {
		cmd(src.Addr, "MIGRATE", host, port, s.Prefix()+k, "0", "5000")
		progress() // one key moved, the other not yet: ASK redirects
	}
	for _, r := range slots {
		cmd(r.Nodes[0].Addr, "CLUSTER", "SETSLOT", sl, "NODE", dst.ID)
	}
	progress()
	close(stop)
	<-done
	if len(failures) > 0 {
		t.Fatalf("%d operations failed while the slot moved, first: %v", len(failures), failures[0])
	}
	want := strconv.Itoa(incrs)
	if v, ok, err := s.Get(ctx, counter); err != nil || !ok || v != want {
		t.Fatalf("counter = %q %v %v after %s increments", v, ok, err, want)
	}
	for _, k := range []string{counter, token} {
		if v, err := redistest.Command(dst.Addr, "GET", s.Prefix()+k); err != nil || v != want {
			t.Fatalf("the new owner holds %s = %q (%v), want %s", k, v, err, want)
		}
	}
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
