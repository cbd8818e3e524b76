package memory_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/state/statetest"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the fake time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the fake time by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newStore returns a Store on a fake clock, closed when the test ends.
func newStore(tb testing.TB) (*memory.Store, *clock) {
	c := &clock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	s := memory.New()
	s.Now = c.Now
	tb.Cleanup(func() { s.Close() })
	return s, c
}

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) (miniback.StateStore, func(time.Duration)) {
		s, c := newStore(t)
		return s, c.Advance
	})
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, _, err := s.Get(ctx, "k"); return err }},
		{"Set", func() error { return s.Set(ctx, "k", "v", 0) }},
		{"SetNX", func() error { _, err := s.SetNX(ctx, "k", "v", 0); return err }},
		{"Delete", func() error { return s.Delete(ctx, "k") }},
		{"DeleteIfEqual", func() error { _, err := s.DeleteIfEqual(ctx, "k", "v"); return err }},
		{"Incr", func() error { _, err := s.Incr(ctx, "n", 0); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err == nil {
				t.Error("succeeded after Close")
			}
		})
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	s.SweepInterval = time.Minute
	for i := range 100 {
		if err := s.Set(ctx, "k"+strconv.Itoa(i), "v", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set(ctx, "keep", "v", 0); err != nil {
		t.Fatal(err)
	}
	c.Advance(30 * time.Second)
	if err := s.Set(ctx, "w1", "v", 0); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 102 {
		t.Errorf("Len before the sweep is due = %d, want 102", got)
	}
	c.Advance(31 * time.Second)
	if err := s.Set(ctx, "w2", "v", 0); err != nil {
		t.Fatal(err)
	}
	if got := s.Len(); got != 3 {
		t.Errorf("Len after the sweep = %d, want 3 (keep, w1, w2)", got)
	}
}

func TestNegativeTTL(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Set(ctx, "k", "v", -time.Second); err == nil {
		t.Error("Set with a negative ttl succeeded")
	}
	if _, err := s.SetNX(ctx, "k", "v", -time.Second); err == nil {
		t.Error("SetNX with a negative ttl succeeded")
	}
	if _, err := s.Incr(ctx, "n", -time.Second); err == nil {
		t.Error("Incr with a negative ttl succeeded")
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d after refused writes, want 0", s.Len())
	}
}

func TestIncrOverflow(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	top := strconv.FormatInt(1<<63-1, 10)
	if err := s.Set(ctx, "n", top, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "n", 0); err == nil {
		t.Error("Incr past MaxInt64 succeeded")
	}
	if v, _, _ := s.Get(ctx, "n"); v != top {
		t.Errorf("value = %q after a refused Incr, want %q", v, top)
	}
}

func TestZeroStore(t *testing.T) {
	ctx := context.Background()
	var s memory.Store
	if err := s.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatalf("Set on a zero Store: %v", err)
	}
	if v, ok, err := s.Get(ctx, "k"); err != nil || !ok || v != "v" {
		t.Errorf("Get = %q, %v, %v; want v, true, nil", v, ok, err)
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b)
	const keys = 1024
	for i := range keys {
		if err := s.Set(ctx, "k"+strconv.Itoa(i), "value", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Get(ctx, "k"+strconv.Itoa(int(n.Add(1)%keys))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSetNX(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			// Half the calls find the key taken.
			if _, err := s.SetNX(ctx, "k"+strconv.Itoa(int(n.Add(1)/2)), "v", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}
