package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/state/memory"
)

// checkProps builds the props by hand: the JSON it makes must mean what
// the client sent, be valid UTF-8, and refuse what the contract refuses.
func TestCheckPropsEncoding(t *testing.T) {
	long := strings.Repeat("x", miniback.MaxPropString)
	cases := []struct {
		name, props string
		want        map[string]any // nil: refused
		text        string         // the exact encoding, when not ""
	}{
		{"sorted and compact", `{"b": 1, "a" : "x", "c":true, "d":false}`, map[string]any{"a": "x", "b": 1.0, "c": true, "d": false}, `{"a":"x","b":1,"c":true,"d":false}`},
		{"numbers as sent", `{"n":1e5,"m":-0.25}`, map[string]any{"n": 1e5, "m": -0.25}, `{"m":-0.25,"n":1e5}`},
		{"escapes", `{"s":"a\"b\\c\u00e9\n"}`, map[string]any{"s": "a\"b\\cé\n"}, ""},
		{"invalid UTF-8", "{\"s\":\"a\xffb\"}", map[string]any{"s": "a\ufffdb"}, ""},
		{"longest string", `{"s":"` + long + `"}`, map[string]any{"s": long}, ""},
		{"string too long", `{"s":"` + long + `x"}`, nil, ""},
		{"too long once decoded", `{"s":"` + strings.Repeat(`\u00e9`, miniback.MaxPropString/2+1) + `"}`, nil, ""},
		{"short once decoded", `{"s":"` + strings.Repeat(`\u0041`, miniback.MaxPropString) + `"}`, map[string]any{"s": strings.Repeat("A", miniback.MaxPropString)}, ""},
		{"nested", `{"o":{"a":1}}`, nil, ""},
		{"array", `{"o":[1]}`, nil, ""},
		{"null", `{"o":null}`, nil, ""},
		{"bad key", `{"A":1}`, nil, ""},
		{"empty", `{}`, map[string]any{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var props map[string]json.RawMessage
			dec := json.NewDecoder(strings.NewReader(c.props))
			dec.UseNumber()
			if err := dec.Decode(&props); err != nil {
				t.Fatal(err)
			}
			got, err := checkProps(props)
			if c.want == nil {
				if err == nil {
					t.Fatalf("accepted as %s, want refused", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.want) == 0 {
				if got != nil {
					t.Fatalf("got %s, want nil", got)
				}
				return
			}
			if !json.Valid(got) || !utf8.Valid(got) {
				t.Fatalf("invalid JSON %q", got)
			}
			var back map[string]any
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.want) {
				t.Fatalf("got %s = %v, want %v", got, back, c.want)
			}
			if c.text != "" && string(got) != c.text {
				t.Fatalf("got %s, want %s", got, c.text)
			}
		})
	}
}

// A batch decoded in one pass gives the same events and refusals as the
// event-by-event decoding it falls back to.
func TestIngestDecodeOnePassSameAsPerEvent(t *testing.T) {
	now := time.Now()
	s := New(Config{Anonymous: true, Now: func() time.Time { return now }}, nil, nil, memory.New(), nil, nil)
	ts := now.UnixMilli()
	events := []string{
		`{"name":"view","ts":` + strconv.FormatInt(ts, 10) + `,"device_id":"d1","props":{"src":"ad","n":2}}`,
		`{"name":"view","ts":` + strconv.FormatInt(ts, 10) + `,"page":"pages/a","props":{}}`,
		`{"name":"Bad","ts":` + strconv.FormatInt(ts, 10) + `,"device_id":"d1"}`,
		`{"name":"old","ts":` + strconv.FormatInt(ts-8*24*3600*1000, 10) + `,"device_id":"d1"}`,
		`{"name":"x","ts":1.5,"device_id":"d1"}`,
		`{"name":"x","device_id":"d1"}`,
		`{"name":"x","ts":` + strconv.FormatInt(ts, 10) + `,"device_id":"d1","props":{"o":{"a":1}}}`,
		`{"name":"x","ts":` + strconv.FormatInt(ts, 10) + `,"device_id":"d 1"}`,
		`null`,
		`{"name":"x","ts":` + strconv.FormatInt(ts, 10) + `,"device_id":"d1","props":{"s":"\u00e9"},"name":"y"}`,
	}
	for _, user := range []int64{0, 7} {
		body := []byte(`{"events":[` + strings.Join(events, ",") + `]}`)
		wires, raws, err := decodeBatch(body)
		if err != nil || raws != nil || len(wires) != len(events) {
			t.Fatalf("one pass: %d wire events, raws %v, err %v", len(wires), raws, err)
		}
		for i, raw := range events {
			e1, err1 := s.checkEvent(&wires[i], user, now)
			e2, err2 := s.parseEvent(json.RawMessage(raw), user, now)
			if !reflect.DeepEqual(e1, e2) || !reflect.DeepEqual(err1, err2) {
				t.Errorf("event %d: one pass %+v %v, per event %+v %v", i, e1, err1, e2, err2)
			}
		}
	}
	// An event that is not an event object sends the batch down the
	// event-by-event path, which refuses that event alone.
	wires, raws, err := decodeBatch([]byte(`{"events":[` + events[0] + `,5,{"name":"x","extra":1}]}`))
	if err != nil || wires != nil || len(raws) != 3 {
		t.Fatalf("fallback: %d wire events, %d raws, err %v", len(wires), len(raws), err)
	}
}

// countingState counts the state store's increments.
type countingState struct {
	miniback.StateStore
	calls int
}

func (c *countingState) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	c.calls++
	return c.StateStore.Incr(ctx, key, ttl)
}

func (c *countingState) IncrMany(ctx context.Context, keys []string, ns []int64, ttl time.Duration) ([]int64, error) {
	c.calls++
	return c.StateStore.IncrMany(ctx, keys, ns, ttl)
}

// The daily cap counts a batch with one state-store call (one Redis round
// trip, not one per event), skips refused events, and lets through exactly
// the first events of each actor that fit, as counting one by one would.
func TestCountEventsOneCallPerActor(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ev := func(user string) *miniback.Event { return &miniback.Event{Name: "tap", User: user} }
	bad := errors.New("refused")
	tests := []struct {
		name      string
		before    map[string]int64 // counted earlier today
		users     []string         // "" is an event refused before counting
		wantCalls int
		want      map[string]int64 // events of each actor let through
		wantCount map[string]string
	}{
		{"one user under the cap", nil, []string{"u:1", "u:1", "u:1"}, 1,
			map[string]int64{"u:1": 3}, map[string]string{"u:1": "3"}},
		{"one user reaching the cap", map[string]int64{"u:1": 3}, []string{"u:1", "u:1", "u:1", "u:1"}, 1,
			map[string]int64{"u:1": 2}, map[string]string{"u:1": "7"}},
		{"already over", map[string]int64{"u:1": 9}, []string{"u:1", "u:1"}, 1,
			map[string]int64{"u:1": 0}, map[string]string{"u:1": "11"}},
		{"devices interleaved, refused events skipped", map[string]int64{"d:b": 4}, []string{"d:a", "", "d:b", "d:a", "d:b", ""}, 1,
			map[string]int64{"d:a": 2, "d:b": 1}, map[string]string{"d:a": "2", "d:b": "6"}},
		{"nothing valid", nil, []string{"", ""}, 0, map[string]int64{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := &countingState{StateStore: memory.New()}
			s := New(Config{MaxPerUserPerDay: 5, Now: func() time.Time { return now }}, nil, nil, st, nil, nil)
			key := func(actor string) string {
				return "analytics:cap:wx1:" + miniback.DayOf(now, s.cfg.Loc).String() + ":" + actor
			}
			for actor, n := range tt.before {
				if _, err := st.StateStore.IncrMany(ctx, []string{key(actor)}, []int64{n}, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			events := make([]*miniback.Event, len(tt.users))
			errs := make([]error, len(tt.users))
			for i, u := range tt.users {
				if u == "" {
					errs[i] = bad
				} else {
					events[i] = ev(u)
				}
			}
			got, err := s.countEvents(ctx, "wx1", events, errs, now)
			if err != nil {
				t.Fatal(err)
			}
			if st.calls != tt.wantCalls {
				t.Errorf("%d state-store calls, want %d", st.calls, tt.wantCalls)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("let through %v, want %v", got, tt.want)
			}
			for actor, want := range tt.wantCount {
				if v, _, _ := st.Get(ctx, key(actor)); v != want {
					t.Errorf("%s counted %s, want %s", actor, v, want)
				}
			}
		})
	}
}
