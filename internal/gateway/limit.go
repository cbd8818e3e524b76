package gateway

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Rate is N requests per Per as a token bucket whose burst is N: the whole
// allowance may be spent at once, then it refills evenly. N = 0 is no limit.
type Rate struct {
	N   int
	Per time.Duration
}

// IsZero reports whether the rate is no limit.
func (r Rate) IsZero() bool { return r.N <= 0 || r.Per <= 0 }

// Decision is a limiter's answer for one request.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst, N
	Remaining  int           // requests left right now
	RetryAfter time.Duration // when refused: until one more request is allowed
	Reset      time.Duration // until the bucket is full again
}

// Limiter takes one request from the bucket of key. Implementations are safe
// for concurrent use. An error means the counters could not be reached.
type Limiter interface {
	Allow(ctx context.Context, key string, r Rate) (Decision, error)
}

// MemoryLimiter keeps the buckets in this process (golang.org/x/time/rate).
// Buckets that have refilled completely are forgotten now and then, so the
// map holds only recently active keys.
type MemoryLimiter struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	rate Rate
}

var _ Limiter = (*MemoryLimiter)(nil)

// sweepEvery bounds how often full buckets are dropped.
const sweepEvery = time.Minute

// Allow implements Limiter; it never fails.
func (m *MemoryLimiter) Allow(_ context.Context, key string, r Rate) (Decision, error) {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets == nil {
		m.buckets = map[string]*bucket{}
	}
	m.sweep(now)
	b, ok := m.buckets[key]
	if !ok || b.rate != r {
		b = &bucket{lim: rate.NewLimiter(perSecond(r), r.N), rate: r}
		b.lim.SetLimitAt(now, perSecond(r)) // start the bucket's clock at now
		m.buckets[key] = b
	}
	allowed := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	every := r.Per / time.Duration(r.N)
	d := Decision{Allowed: allowed, Limit: r.N, Remaining: max(int(math.Floor(tokens)), 0),
		Reset: time.Duration((float64(r.N) - tokens) * float64(every))}
	if !allowed {
		d.RetryAfter = time.Duration((1 - tokens) * float64(every))
	}
	return d, nil
}

func perSecond(r Rate) rate.Limit { return rate.Limit(float64(r.N) / r.Per.Seconds()) }

func (m *MemoryLimiter) sweep(now time.Time) {
	if now.Sub(m.lastSweep) < sweepEvery {
		return
	}
	m.lastSweep = now
	for k, b := range m.buckets {
		if b.lim.TokensAt(now) >= float64(b.rate.N) {
			delete(m.buckets, k)
		}
	}
}

// RedisLimiter keeps the buckets in Redis (github.com/go-redis/redis_rate,
// GCRA), so every instance sharing the Redis shares the limits.
type RedisLimiter struct {
	lim    *redis_rate.Limiter
	prefix string
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns a limiter over client whose keys start with
// prefix (redis_rate adds its own "rate:" in front).
func NewRedisLimiter(client redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{lim: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow implements Limiter; it fails when Redis cannot be reached.
func (l *RedisLimiter) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	res, err := l.lim.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: r.N, Burst: r.N, Period: r.Per})
	if err != nil {
		return Decision{}, fmt.Errorf("gateway: rate limit: %w", err)
	}
	d := Decision{Allowed: res.Allowed > 0, Limit: r.N, Remaining: res.Remaining, Reset: max(res.ResetAfter, 0)}
	if !d.Allowed {
		d.RetryAfter = max(res.RetryAfter, 0)
	}
	return d, nil
}
