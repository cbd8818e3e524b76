package inbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/push"
)

// runInbox runs an Inbox over store and an embedded queue in dataDir with
// the single rule h, until the returned stop is called.
func runInbox(t *testing.T, store miniback.InboxStore, dataDir string, h inbox.Handler, tune ...func(*inbox.Config)) (*inbox.Inbox, *queue.Queue, func()) {
	t.Helper()
	cfg := inbox.Config{
		Rules: []inbox.Rule{{Handler: "h"}}, Handlers: map[string]inbox.Handler{"h": h},
		Now: func() time.Time { return testNow },
	}
	for _, f := range tune {
		f(&cfg)
	}
	q, err := queue.Open(context.Background(), queue.Config{DataDir: dataDir, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	in, err := inbox.New(testApps(), store, nil, q, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			q.Close()
		})
	}
	t.Cleanup(stop)
	return in, q, stop
}

// TestRunCrashBeforeFinish: the instance dies (its queue closed under the
// handlers) while a batch of pushes is being handled, before the batch's
// rows are written. Nothing was acknowledged: the next instance gets every
// push again and handles each, so none is lost.
func TestRunCrashBeforeFinish(t *testing.T) {
	store, dataDir := mustInbox(t), t.TempDir()
	entered := make(chan struct{}, 100)
	blocked := inbox.HandlerFunc(func(ctx context.Context, _ *push.Message, _ *miniback.InboxMessage) error {
		entered <- struct{}{}
		<-ctx.Done() // the handler never finishes before the crash
		return ctx.Err()
	})
	in1, q1, stop1 := runInbox(t, store, dataDir, blocked)
	env := &portalEnv{portal: in1.Portal, inbox: store}
	mux := http.NewServeMux()
	mux.Handle("POST /wx/portal/{appid}", adapt(in1.Portal.ServeMessage))
	env.server = httptest.NewServer(mux)
	defer env.server.Close()
	const n = 5
	for i := range n {
		msg := fmt.Sprintf(`{"ToUserName":"gh_1","FromUserName":"o-1","CreateTime":%d,"MsgType":"text","Content":"hi","MsgId":%d}`, testNow.Unix(), 9000+i)
		if status, body := env.send(t, buildPush(t, "wxencjson", "safe", push.FormatJSON, []byte(msg), testNow.Unix())); status != http.StatusOK {
			t.Fatalf("push %d: %d %s", i, status, body)
		}
	}
	<-entered
	q1.Close() // the crash: handlers cut short, nothing acknowledged
	stop1()
	rows := env.rows(t, "wxencjson")
	for _, r := range rows {
		if r.Status != miniback.InboxReceived {
			t.Fatalf("row %d is %s after the crash, want received", r.ID, r.Status)
		}
	}

	var mu sync.Mutex
	handled := map[int64]int{}
	_, _, _ = runInbox(t, store, dataDir, inbox.HandlerFunc(func(_ context.Context, _ *push.Message, m *miniback.InboxMessage) error {
		mu.Lock()
		handled[m.ID]++
		mu.Unlock()
		return nil
	}))
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows = env.rows(t, "wxencjson")
		done := 0
		for _, r := range rows {
			if r.Status == miniback.InboxHandled {
				done++
			}
		}
		if len(rows) == n && done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d rows handled", done, len(rows))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range rows {
		if handled[r.ID] != 1 {
			t.Errorf("row %d handled %d times after the restart, want 1", r.ID, handled[r.ID])
		}
	}
}

// sendPushes posts n safe-mode JSON pushes with MsgIds from first to the
// Portal of in.
func sendPushes(t *testing.T, env *portalEnv, in *inbox.Inbox, first, n int) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /wx/portal/{appid}", adapt(in.Portal.ServeMessage))
	env.server = httptest.NewServer(mux)
	defer env.server.Close()
	for i := range n {
		msg := fmt.Sprintf(`{"ToUserName":"gh_1","FromUserName":"o-1","CreateTime":%d,"MsgType":"text","Content":"hi","MsgId":%d}`, testNow.Unix(), first+i)
		if status, body := env.send(t, buildPush(t, "wxencjson", "safe", push.FormatJSON, []byte(msg), testNow.Unix())); status != http.StatusOK {
			t.Fatalf("push %d: %d %s", i, status, body)
		}
	}
}

// TestRunDefersPastBatchTime: with no time for more than one row per
// batch, the rows a batch could not start go back to the queue and are
// handled by later batches, each exactly once.
func TestRunDefersPastBatchTime(t *testing.T) {
	store := mustInbox(t)
	release := make(chan struct{})
	var mu sync.Mutex
	handled := map[int64]int{}
	h := inbox.HandlerFunc(func(_ context.Context, _ *push.Message, m *miniback.InboxMessage) error {
		<-release // the pushes queue up meanwhile, to be fetched in batches
		mu.Lock()
		handled[m.ID]++
		mu.Unlock()
		return nil
	})
	var ticks atomic.Int64
	in, _, _ := runInbox(t, store, t.TempDir(), h, func(c *inbox.Config) {
		c.BatchTime = time.Nanosecond
		// A clock that moves a millisecond on every reading: the batch's
		// time is over after its first row.
		c.Now = func() time.Time { return testNow.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	})
	env := &portalEnv{portal: in.Portal, inbox: store}
	const n = 12
	sendPushes(t, env, in, 9100, n)
	close(release)
	deadline := time.Now().Add(15 * time.Second)
	for {
		rows := env.rows(t, "wxencjson")
		done := 0
		for _, r := range rows {
			if r.Status == miniback.InboxHandled {
				done++
			}
		}
		if len(rows) == n && done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows handled", done, len(rows))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, runs := range handled {
		if runs != 1 {
			t.Errorf("row %d handled %d times, want 1", id, runs)
		}
	}
}
