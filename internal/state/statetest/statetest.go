// Package statetest is the conformance suite every miniback.StateStore
// runs: the in-process one and the Redis one.
//
// Run is given a function that opens a store and returns, with it, an
// advance function that makes d of the store's time pass: a fake clock moves
// for the in-process store, a real store may sleep or fast-forward its
// server. The suite never sleeps itself and uses TTLs of whole seconds,
// which Redis keeps exactly. Keys are prefixed with the test's name, so
// stores may share one server.
package statetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
)

// OpenFunc opens a store for t, arranges for it to be closed when t ends,
// and returns it with a function that makes d of its time pass.
type OpenFunc func(t *testing.T) (s miniback.StateStore, advance func(time.Duration))

// ttl is the expiry the suite gives keys that should expire.
const ttl = 2 * time.Second

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open OpenFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open OpenFunc)
	}{
		{"GetSet", testGetSet},
		{"TTL", testTTL},
		{"SetNX", testSetNX},
		{"SetNXRace", testSetNXRace},
		{"Delete", testDelete},
		{"DeleteIfEqual", testDeleteIfEqual},
		{"SetIfEqual", testSetIfEqual},
		{"SetIfEqualRace", testSetIfEqualRace},
		{"Incr", testIncr},
		{"IncrTTL", testIncrTTL},
		{"IncrRace", testIncrRace},
		{"IncrMany", testIncrMany},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// key returns a key unique to the running test.
func key(t *testing.T, name string) string {
	return "statetest:" + t.Name() + ":" + name
}

// wantGet fails t unless key holds want (ok) or is absent (!ok).
func wantGet(t *testing.T, s miniback.StateStore, k, want string, wantOK bool) {
	t.Helper()
	got, ok, err := s.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	if ok != wantOK || got != want {
		t.Fatalf("Get(%q) = %q, %v; want %q, %v", k, got, ok, want, wantOK)
	}
}

// must fails t when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// testGetSet checks plain reads and writes.
func testGetSet(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name   string
		values []string // set in turn; the last must be read
	}{
		{"one value", []string{"v"}},
		{"overwrite", []string{"v1", "v2"}},
		{"empty value", []string{""}},
		{"binary-ish value", []string{"a\x00b\n\xff"}},
		{"unicode", []string{"令牌"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t)
			k := key(t, "k")
			wantGet(t, s, k, "", false)
			for _, v := range tt.values {
				must(t, s.Set(ctx, k, v, 0))
			}
			wantGet(t, s, k, tt.values[len(tt.values)-1], true)
		})
	}
}

// testTTL checks expiry of Set, that ttl 0 never expires, and that Set
// replaces an earlier expiry.
func testTTL(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	t.Run("expires", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		must(t, s.Set(ctx, k, "v", ttl))
		wantGet(t, s, k, "v", true)
		advance(ttl / 4)
		wantGet(t, s, k, "v", true)
		advance(ttl)
		wantGet(t, s, k, "", false)
	})
	t.Run("zero ttl never expires", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		must(t, s.Set(ctx, k, "v", 0))
		advance(2 * ttl)
		wantGet(t, s, k, "v", true)
	})
	t.Run("set replaces the expiry", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		must(t, s.Set(ctx, k, "v1", ttl))
		must(t, s.Set(ctx, k, "v2", 0))
		advance(2 * ttl)
		wantGet(t, s, k, "v2", true)
	})
	t.Run("expired key can be set again", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		must(t, s.Set(ctx, k, "v1", ttl))
		advance(2 * ttl)
		must(t, s.Set(ctx, k, "v2", ttl))
		wantGet(t, s, k, "v2", true)
	})
}

// testSetNX checks that SetNX writes only absent or expired keys.
func testSetNX(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(ctx context.Context, s miniback.StateStore, k string, advance func(time.Duration)) error
		wantSet bool
		want    string
	}{
		{"absent", func(context.Context, miniback.StateStore, string, func(time.Duration)) error { return nil }, true, "new"},
		{"present", func(ctx context.Context, s miniback.StateStore, k string, _ func(time.Duration)) error {
			return s.Set(ctx, k, "old", 0)
		}, false, "old"},
		{"present with ttl", func(ctx context.Context, s miniback.StateStore, k string, _ func(time.Duration)) error {
			return s.Set(ctx, k, "old", ttl)
		}, false, "old"},
		{"expired", func(ctx context.Context, s miniback.StateStore, k string, advance func(time.Duration)) error {
			err := s.Set(ctx, k, "old", ttl)
			advance(2 * ttl)
			return err
		}, true, "new"},
		{"deleted", func(ctx context.Context, s miniback.StateStore, k string, _ func(time.Duration)) error {
			if err := s.Set(ctx, k, "old", 0); err != nil {
				return err
			}
			return s.Delete(ctx, k)
		}, true, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := open(t)
			k := key(t, "k")
			must(t, tt.prepare(ctx, s, k, advance))
			set, err := s.SetNX(ctx, k, "new", 0)
			must(t, err)
			if set != tt.wantSet {
				t.Errorf("SetNX = %v, want %v", set, tt.wantSet)
			}
			wantGet(t, s, k, tt.want, true)
		})
	}
	t.Run("with ttl expires", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		set, err := s.SetNX(ctx, k, "v", ttl)
		must(t, err)
		if !set {
			t.Fatal("SetNX on an absent key = false")
		}
		advance(2 * ttl)
		wantGet(t, s, k, "", false)
	})
}

// testSetNXRace checks that of 50 concurrent SetNX calls exactly one wins
// and its value is the one stored.
func testSetNXRace(t *testing.T, open OpenFunc) {
	const n = 50
	ctx := context.Background()
	s, _ := open(t)
	k := key(t, "lock")
	won := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			won[i], errs[i] = s.SetNX(ctx, k, strconv.Itoa(i), ttl)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		must(t, errs[i])
		if won[i] && winner >= 0 {
			t.Fatalf("SetNX won by %d and %d", winner, i)
		}
		if won[i] {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no SetNX won")
	}
	wantGet(t, s, k, strconv.Itoa(winner), true)
}

// testDelete checks Delete of present, absent and expired keys.
func testDelete(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s, advance := open(t)
	present, expired, other := key(t, "present"), key(t, "expired"), key(t, "other")
	must(t, s.Set(ctx, present, "v", 0))
	must(t, s.Set(ctx, expired, "v", ttl))
	must(t, s.Set(ctx, other, "v", 0))
	advance(2 * ttl)
	for _, k := range []string{present, expired, key(t, "absent")} {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): %v", k, err)
		}
		wantGet(t, s, k, "", false)
	}
	wantGet(t, s, other, "v", true)
}

// testDeleteIfEqual checks that only the holder's value deletes the key.
func testDeleteIfEqual(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name        string
		stored      string // "" means the key is absent
		expire      bool
		value       string
		wantDeleted bool
	}{
		{"equal", "owner", false, "owner", true},
		{"wrong value leaves key", "owner", false, "thief", false},
		{"prefix is not equal", "owner", false, "own", false},
		{"empty value is not equal", "owner", false, "", false},
		{"absent", "", false, "owner", false},
		{"expired", "owner", true, "owner", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := open(t)
			k := key(t, "lock")
			if tt.stored != "" {
				must(t, s.Set(ctx, k, tt.stored, ttl))
			}
			if tt.expire {
				advance(2 * ttl)
			}
			deleted, err := s.DeleteIfEqual(ctx, k, tt.value)
			must(t, err)
			if deleted != tt.wantDeleted {
				t.Errorf("DeleteIfEqual = %v, want %v", deleted, tt.wantDeleted)
			}
			if tt.stored != "" && !tt.expire && !tt.wantDeleted {
				wantGet(t, s, k, tt.stored, true)
			} else {
				wantGet(t, s, k, "", false)
			}
		})
	}
}

// testSetIfEqual checks the compare-and-set: it replaces only the value
// it was given, never creates a key, and gives the new value its ttl.
func testSetIfEqual(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	tests := []struct {
		name    string
		stored  string // "" means the key is absent
		expire  bool
		old     string
		wantSet bool
	}{
		{"equal", "v1", false, "v1", true},
		{"wrong value leaves key", "v1", false, "v0", false},
		{"prefix is not equal", "v1", false, "v", false},
		{"empty old is not equal", "v1", false, "", false},
		{"absent is not created", "", false, "", false},
		{"expired is not replaced", "v1", true, "v1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, advance := open(t)
			k := key(t, "k")
			if tt.stored != "" {
				must(t, s.Set(ctx, k, tt.stored, ttl))
			}
			if tt.expire {
				advance(2 * ttl)
			}
			set, err := s.SetIfEqual(ctx, k, tt.old, "v2", 0)
			must(t, err)
			if set != tt.wantSet {
				t.Errorf("SetIfEqual = %v, want %v", set, tt.wantSet)
			}
			switch {
			case tt.wantSet:
				wantGet(t, s, k, "v2", true)
			case tt.stored != "" && !tt.expire:
				wantGet(t, s, k, tt.stored, true)
			default:
				wantGet(t, s, k, "", false)
			}
		})
	}
	t.Run("new ttl", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "k")
		must(t, s.Set(ctx, k, "v1", 0))
		set, err := s.SetIfEqual(ctx, k, "v1", "v2", ttl)
		must(t, err)
		if !set {
			t.Fatal("SetIfEqual with the held value did not set")
		}
		advance(ttl / 4)
		wantGet(t, s, k, "v2", true)
		advance(ttl)
		wantGet(t, s, k, "", false)
	})
}

// testSetIfEqualRace: goroutines add to a counter by read and
// compare-and-set, retrying when they lose; no addition is lost.
func testSetIfEqualRace(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s, _ := open(t)
	k := key(t, "n")
	must(t, s.Set(ctx, k, "0", 0))
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					v, _, err := s.Get(ctx, k)
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(v)
					set, err := s.SetIfEqual(ctx, k, v, strconv.Itoa(n+1), 0)
					if err != nil {
						errs <- err
						return
					}
					if set {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantGet(t, s, k, strconv.Itoa(workers*each), true)
}

// testIncr checks counting from nothing, from a set value, and the error
// on a value that is not a number.
func testIncr(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s, _ := open(t)
	k := key(t, "n")
	for want := int64(1); want <= 3; want++ {
		got, err := s.Incr(ctx, k, 0)
		must(t, err)
		if got != want {
			t.Fatalf("Incr = %d, want %d", got, want)
		}
	}
	wantGet(t, s, k, "3", true)
	set := key(t, "set")
	must(t, s.Set(ctx, set, "41", 0))
	if got, err := s.Incr(ctx, set, ttl); err != nil || got != 42 {
		t.Errorf("Incr after Set 41 = %d, %v; want 42", got, err)
	}
	text := key(t, "text")
	must(t, s.Set(ctx, text, "abc", 0))
	if _, err := s.Incr(ctx, text, 0); err == nil {
		t.Error("Incr of a non-number succeeded")
	}
	wantGet(t, s, text, "abc", true)
}

// testIncrTTL checks that a new counter expires after ttl, that later
// increments do not push the expiry back, and that ttl 0 never expires.
func testIncrTTL(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	t.Run("not reset by increments", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "n")
		incr := func(want int64) {
			t.Helper()
			got, err := s.Incr(ctx, k, ttl)
			must(t, err)
			if got != want {
				t.Fatalf("Incr = %d, want %d", got, want)
			}
		}
		incr(1)
		advance(ttl * 3 / 4)
		incr(2)
		advance(ttl / 2) // 5/4 ttl after creation: expired despite the second Incr
		wantGet(t, s, k, "", false)
		incr(1)
	})
	t.Run("zero ttl never expires", func(t *testing.T) {
		s, advance := open(t)
		k := key(t, "n")
		_, err := s.Incr(ctx, k, 0)
		must(t, err)
		advance(2 * ttl)
		wantGet(t, s, k, "1", true)
	})
}

// testIncrRace checks that concurrent increments are not lost.
func testIncrRace(t *testing.T, open OpenFunc) {
	const n = 50
	ctx := context.Background()
	s, _ := open(t)
	k := key(t, "n")
	var wg sync.WaitGroup
	seen := make([]int64, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { seen[i], errs[i] = s.Incr(ctx, k, ttl) })
	}
	wg.Wait()
	distinct := map[int64]bool{}
	for i := range n {
		must(t, errs[i])
		distinct[seen[i]] = true
	}
	if len(distinct) != n {
		t.Errorf("%d distinct results from %d increments", len(distinct), n)
	}
	wantGet(t, s, k, fmt.Sprint(n), true)
}

// testPing checks that an open store answers.
func testPing(t *testing.T, open OpenFunc) {
	s, _ := open(t)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testIncrMany checks counting several counters by several at once: from
// nothing, after Incr, one key twice in a call, the expiry set when a
// counter is created and kept by later steps, the sum of concurrent calls,
// and the errors of a step below 1, of mismatched lengths and of a value
// that is not a number.
func testIncrMany(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	s, advance := open(t)
	a, b := key(t, "a"), key(t, "b")
	steps := []struct {
		keys []string
		ns   []int64
		want []int64
	}{
		{[]string{a, b}, []int64{5, 1}, []int64{5, 1}},
		{[]string{b, a, b}, []int64{2, 1, 20}, []int64{3, 6, 23}},
		{[]string{a}, []int64{4}, []int64{10}},
	}
	for _, st := range steps {
		got, err := s.IncrMany(ctx, st.keys, st.ns, ttl)
		must(t, err)
		if !slices.Equal(got, st.want) {
			t.Fatalf("IncrMany %v by %v = %v, want %v", st.keys, st.ns, got, st.want)
		}
	}
	if got, err := s.Incr(ctx, a, ttl); err != nil || got != 11 {
		t.Errorf("Incr after IncrMany = %d, %v; want 11", got, err)
	}
	for _, bad := range []struct {
		keys []string
		ns   []int64
	}{{[]string{a}, []int64{0}}, {[]string{a, b}, []int64{1, -3}}, {[]string{a, b}, []int64{1}}} {
		if _, err := s.IncrMany(ctx, bad.keys, bad.ns, ttl); err == nil {
			t.Errorf("IncrMany %v by %v succeeded", bad.keys, bad.ns)
		}
	}
	wantGet(t, s, a, "11", true)
	wantGet(t, s, b, "23", true)
	advance(ttl * 3 / 4)
	_, err := s.IncrMany(ctx, []string{a, b}, []int64{3, 3}, ttl)
	must(t, err)
	advance(ttl / 2) // 5/4 ttl after creation: expired despite the later steps
	wantGet(t, s, a, "", false)
	wantGet(t, s, b, "", false)

	text := key(t, "text")
	must(t, s.Set(ctx, text, "abc", 0))
	if _, err := s.IncrMany(ctx, []string{text}, []int64{2}, 0); err == nil {
		t.Error("IncrMany of a non-number succeeded")
	}
	wantGet(t, s, text, "abc", true)

	sum, other := key(t, "sum"), key(t, "other")
	const workers = 20
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() { _, errs[i] = s.IncrMany(ctx, []string{sum, other}, []int64{int64(i + 1), 1}, ttl) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	wantGet(t, s, sum, strconv.Itoa(workers*(workers+1)/2), true)
	wantGet(t, s, other, strconv.Itoa(workers), true)
}
