package miniback

import "testing"

// TestKnownRowsGenerations checks that KnownRows stays within two
// generations: rows of the current and the previous generation are
// known (the newest value winning), older ones are forgotten.
func TestKnownRowsGenerations(t *testing.T) {
	key := func(i int) KnownKey {
		return KnownKey{Kind: 'd', AppID: "wx1", Name: "tap", User: "u:1", Time: int64(i)}
	}
	k := &KnownRows{max: 4}
	commit := func(from, to int) {
		rows := map[KnownKey]int64{}
		for i := from; i < to; i++ {
			rows[key(i)] = int64(i)
		}
		k.Commit(rows)
	}
	commit(0, 3)                              // generation 1: 0–2
	commit(3, 6)                              // full: generation 2 holds 3–5, generation 1 is the old one
	commit(6, 7)                              // generation 2: 3–6
	k.Commit(map[KnownKey]int64{key(1): 100}) // full: generation 3 holds 1 (new value), generation 2 the old one
	tests := []struct {
		i     int
		want  int64
		known bool
	}{
		{0, 0, false}, {2, 0, false}, // generation 1: forgotten
		{3, 3, true}, {6, 6, true}, // generation 2: old, still known
		{1, 100, true}, // generation 3: the newest value
		{7, 0, false},
	}
	for _, tt := range tests {
		v, ok := k.Get(key(tt.i))
		if ok != tt.known || v != tt.want {
			t.Errorf("row %d: %d, %v; want %d, %v", tt.i, v, ok, tt.want, tt.known)
		}
	}
	if n := len(k.cur) + len(k.old); n > 2*4 {
		t.Errorf("%d rows kept, want at most %d", n, 2*4)
	}
}
