package wechat

import (
	"testing"
	"time"
)

func TestMemoryTokenStore(t *testing.T) {
	s := NewMemoryTokenStore()
	clock := newFakeClock()
	s.now = clock.Now
	ctx := t.Context()
	if ok, _ := s.SetNX(ctx, "k", "a", time.Minute); !ok {
		t.Fatal("SetNX on an absent key failed")
	}
	if ok, _ := s.SetNX(ctx, "k", "b", time.Minute); ok {
		t.Fatal("SetNX on a present key succeeded")
	}
	if ok, _ := s.DeleteIfEqual(ctx, "k", "b"); ok {
		t.Fatal("DeleteIfEqual removed another value")
	}
	if v, ok, _ := s.Get(ctx, "k"); !ok || v != "a" {
		t.Fatalf("Get = %q %v", v, ok)
	}
	clock.Add(time.Minute)
	if _, ok, _ := s.Get(ctx, "k"); ok {
		t.Fatal("key outlived its ttl")
	}
	_ = s.Set(ctx, "forever", "x", 0)
	clock.Add(1000 * time.Hour)
	if _, ok, _ := s.Get(ctx, "forever"); !ok {
		t.Fatal("key with ttl 0 expired")
	}
	for want := int64(1); want <= 3; want++ {
		if n, err := s.Incr(ctx, "n", time.Hour); err != nil || n != want {
			t.Fatalf("Incr = %d %v, want %d", n, err, want)
		}
	}
	clock.Add(time.Hour)
	if n, _ := s.Incr(ctx, "n", time.Hour); n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1", n)
	}
	if _, err := s.Incr(ctx, "forever", time.Hour); err == nil {
		t.Fatal("Incr on a non-counter succeeded")
	}
	if ok, _ := s.SetIfEqual(ctx, "forever", "y", "z", 0); ok {
		t.Fatal("SetIfEqual replaced another value")
	}
	if ok, _ := s.SetIfEqual(ctx, "absent", "", "z", 0); ok {
		t.Fatal("SetIfEqual created an absent key")
	}
	if ok, _ := s.SetIfEqual(ctx, "forever", "x", "x", time.Minute); !ok {
		t.Fatal("SetIfEqual with the held value failed")
	}
	if ok, _ := s.DeleteIfEqual(ctx, "forever", "x"); !ok {
		t.Fatal("DeleteIfEqual with the held value failed")
	}
}
