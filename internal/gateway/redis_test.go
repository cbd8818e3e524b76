package gateway

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testRedis returns a client for MINIBACK_TEST_REDIS_URL (default db 0) and
// a key prefix of its own. Without Redis the test is skipped, or fails under
// CI or REQUIRE_TEST_SERVERS.
func testRedis(tb testing.TB) (*redis.Client, string) {
	u := os.Getenv("MINIBACK_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") != "" || os.Getenv("REQUIRE_TEST_SERVERS") != "" {
			tb.Fatalf("no Redis at %s: %v", u, err)
		}
		tb.Skipf("no Redis at %s (%v); bash .ci/run starts one", u, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, "test:" + rand.Text()[:12] + ":"
}

func TestRedisLimiterSharedByInstances(t *testing.T) {
	c, prefix := testRedis(t)
	a, b := NewRedisLimiter(c, prefix), NewRedisLimiter(c, prefix)
	r := Rate{N: 3, Per: time.Minute}
	for i, l := range []*RedisLimiter{a, b, a} {
		d, err := l.Allow(context.Background(), "k", r)
		if err != nil || !d.Allowed || d.Remaining != 2-i || d.Limit != 3 {
			t.Fatalf("call %d: %+v %v", i, d, err)
		}
	}
	d, err := b.Allow(context.Background(), "k", r)
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 20*time.Second || d.Reset <= 0 {
		t.Fatalf("over the limit: %+v %v", d, err)
	}
}

// BenchmarkLimiter measures the cost of one limit check per request.
func BenchmarkLimiter(b *testing.B) {
	r := Rate{N: 1 << 30, Per: time.Second}
	b.Run("memory", func(b *testing.B) {
		l := &MemoryLimiter{}
		i := 0
		for b.Loop() {
			l.Allow(context.Background(), "ip:"+strconv.Itoa(i%1024), r)
			i++
		}
	})
	b.Run("redis", func(b *testing.B) {
		c, prefix := testRedis(b)
		l := NewRedisLimiter(c, prefix)
		i := 0
		for b.Loop() {
			if _, err := l.Allow(context.Background(), "ip:"+strconv.Itoa(i%1024), r); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
