package analytics

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/internal/state/memory"
)

// recordingStore is an EventStore that records the batches of each
// AddEvents call (the other methods are not used).
type recordingStore struct {
	miniback.EventStore
	mu    sync.Mutex
	calls [][]miniback.EventBatch
	got   chan struct{} // receives once per call
}

func newRecordingStore() *recordingStore {
	return &recordingStore{got: make(chan struct{}, 100)}
}

func (r *recordingStore) AddEvents(_ context.Context, batches []miniback.EventBatch, _ *time.Location) (int, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(batches))
	r.mu.Unlock()
	r.got <- struct{}{}
	return len(batches), nil
}

func (r *recordingStore) DeleteEventsBefore(context.Context, time.Time) (int64, error) {
	return 0, nil
}

func (r *recordingStore) ids() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]string
	for _, c := range r.calls {
		var ids []string
		for _, b := range c {
			ids = append(ids, b.ID)
		}
		out = append(out, ids)
	}
	return out
}

func startWriter(t *testing.T, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.writeLoop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A batch that arrives while the writer gathers goes into the same
// commit: without the gathering, the writer would commit the first batch
// alone as soon as it took it.
func TestWriterGathersBatches(t *testing.T) {
	store := newRecordingStore()
	s := New(Config{Writers: 3, WriteWait: time.Hour}, store, nil, memory.New(), nil, nil)
	startWriter(t, s)
	var reqs []*writeReq
	for _, id := range []string{"b1", "b2", "b3"} {
		r := &writeReq{batches: []miniback.EventBatch{{AppID: appA, ID: id}}, done: make(chan error, 1)}
		s.writes <- r // returns once the writer holds it
		reqs = append(reqs, r)
	}
	for _, r := range reqs {
		if err := <-r.done; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := store.ids(), [][]string{{"b1", "b2", "b3"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commits %v, want %v", got, want)
	}
}

// Fewer pulls than Writers are committed once WriteWait has passed.
func TestWriterCommitsAfterWait(t *testing.T) {
	store := newRecordingStore()
	s := New(Config{Writers: 64, WriteWait: time.Millisecond}, store, nil, memory.New(), nil, nil)
	startWriter(t, s)
	r := &writeReq{batches: []miniback.EventBatch{{AppID: appA, ID: "b1"}}, done: make(chan error, 1)}
	s.writes <- r
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	if got := store.ids(); len(got) != 1 || !slices.Equal(got[0], []string{"b1"}) {
		t.Fatalf("commits %v, want [[b1]]", got)
	}
}

// MaxWriteEvents ends the gathering before Writers pulls.
func TestWriterMaxEvents(t *testing.T) {
	store := newRecordingStore()
	s := New(Config{Writers: 64, WriteWait: time.Hour, MaxWriteEvents: 3}, store, nil, memory.New(), nil, nil)
	startWriter(t, s)
	var reqs []*writeReq
	for _, id := range []string{"b1", "b2"} {
		r := &writeReq{batches: []miniback.EventBatch{{AppID: appA, ID: id, Events: make([]miniback.Event, 2)}}, events: 2, done: make(chan error, 1)}
		s.writes <- r
		reqs = append(reqs, r)
	}
	for _, r := range reqs {
		if err := <-r.done; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := store.ids(), [][]string{{"b1", "b2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commits %v, want %v", got, want)
	}
}

// Logins that come in while a publish of login events is in flight are
// published together as one batch, each event once.
func TestRecordLoginCoalesces(t *testing.T) {
	q, err := queue.Open(context.Background(), queue.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	store := newRecordingStore()
	s := New(Config{DatacubeOff: true, WriteWait: time.Millisecond}, store, nil, memory.New(), q, nil)
	at := time.Now()

	s.logins.pub.Lock() // a publish in flight
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- s.RecordLogin(context.Background(), appA, int64(i+1), "sess"+string(rune('a'+i)), at) }()
	}
	for {
		s.logins.mu.Lock()
		n := 0
		if g := s.logins.open[appA]; g != nil {
			n = len(g.batch.Events)
		}
		s.logins.mu.Unlock()
		if n == 3 {
			break
		}
		runtime.Gosched()
	}
	s.logins.pub.Unlock()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// A later login, alone, is its own batch.
	if err := s.RecordLogin(context.Background(), appA, 4, "sessd", at); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	events := map[string]int{}
	batches := 0
	for len(events) < 4 {
		<-store.got
		store.mu.Lock()
		events, batches = map[string]int{}, 0
		for _, c := range store.calls {
			for _, b := range c {
				batches++
				for _, e := range b.Events {
					if e.Name != LoginEvent {
						t.Errorf("event %q, want %q", e.Name, LoginEvent)
					}
					events[e.User]++
				}
			}
		}
		store.mu.Unlock()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if batches != 2 {
		t.Errorf("%d batches, want 2 (three logins together, then one)", batches)
	}
	for u, n := range events {
		if n != 1 {
			t.Errorf("%s: %d login events, want 1", u, n)
		}
	}
}

// The messages of one pull go into one commit; a malformed one is dropped
// alone.
func TestHandleBatchesOnePull(t *testing.T) {
	store := newRecordingStore()
	s := New(Config{Writers: 1, WriteWait: time.Hour}, store, nil, memory.New(), nil, nil)
	startWriter(t, s)
	ds := []*queue.Delivery{
		{Data: []byte(`{"appid":"` + appA + `","id":"b1","events":[{"name":"open","ts":1,"user_key":"u:1"}]}`)},
		{Data: []byte(`{"appid":`)},
		{Data: []byte(`{"appid":"` + appA + `","id":"b2","events":[]}`)},
		{Data: []byte(`{"appid":"` + appA + `","events":[]}`)},
	}
	errs := s.handleBatches(context.Background(), ds)
	if len(errs) != 4 || errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] == nil {
		t.Fatalf("errs = %v; want only the malformed messages refused", errs)
	}
	if got, want := store.ids(), [][]string{{"b1", "b2"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("commits %v, want %v", got, want)
	}
}
