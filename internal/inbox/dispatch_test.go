package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/push"
)

// TestPortalThenDispatcher: the portal answers while a slow handler has not
// run (it never calls handlers); the Dispatcher then runs it once and
// finishes the row, and a queue redelivery does not run it again.
func TestPortalThenDispatcher(t *testing.T) {
	env := newPortalEnv(t)
	release := make(chan struct{})
	var runs atomic.Int32
	slow := inbox.HandlerFunc(func(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
		<-release
		runs.Add(1)
		return nil
	})
	router, err := inbox.NewRouter([]inbox.Rule{{MsgType: "text", Handler: "slow"}}, inbox.WithHandler("slow", slow))
	if err != nil {
		t.Fatal(err)
	}
	d := &inbox.Dispatcher{Inbox: env.inbox, Router: router, Now: func() time.Time { return testNow }}

	p := buildPush(t, "wxencxml", "safe", push.FormatXML, readSample(t, "text.xml"), testNow.Unix())
	if status, body := env.send(t, p); status != http.StatusOK || body != "success" {
		t.Fatalf("%d %q", status, body)
	}
	pubs := env.queue.all()
	if len(pubs) != 1 || runs.Load() != 0 {
		t.Fatalf("publishes %v, handler runs %d: want 1 publish and no run", pubs, runs.Load())
	}
	id, err := inbox.ParseInboxID([]byte(pubs[0].data))
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	for range 2 { // the second is a queue redelivery
		if err := d.HandleDelivery(context.Background(), "wxencxml", id); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times, want 1", runs.Load())
	}
	row, err := env.inbox.InboxMessage(context.Background(), "wxencxml", id)
	if err != nil || row.Status != miniback.InboxHandled {
		t.Fatalf("row %+v, %v", row, err)
	}
	// A WeChat retry after handling is answered and not published.
	if status, _ := env.send(t, p); status != http.StatusOK || len(env.queue.all()) != 1 {
		t.Errorf("retry: status %d, %d publishes", status, len(env.queue.all()))
	}
}

func TestDispatcher(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		handlerErr error
		cancel     bool
		wantStatus string
		wantErr    bool
	}{
		{"handled", nil, false, miniback.InboxHandled, false},
		{"failed is recorded", boom, false, miniback.InboxFailed, false},
		{"shutdown leaves it received", boom, true, miniback.InboxReceived, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := mustInbox(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h := inbox.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error {
				if tt.cancel {
					cancel()
				}
				return tt.handlerErr
			})
			router, err := inbox.NewRouter([]inbox.Rule{{Handler: "h"}}, inbox.WithHandler("h", h))
			if err != nil {
				t.Fatal(err)
			}
			in := inboxOf(t, "wxa", "text.json")
			in.ID = 0
			if _, err := store.AddInbox(context.Background(), in); err != nil {
				t.Fatal(err)
			}
			d := &inbox.Dispatcher{Inbox: store, Router: router, Now: func() time.Time { return testNow }}
			if err := d.HandleDelivery(ctx, "wxa", in.ID); (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			row, err := store.InboxMessage(context.Background(), "wxa", in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if row.Status != tt.wantStatus {
				t.Errorf("status %q, want %q", row.Status, tt.wantStatus)
			}
			if tt.wantStatus == miniback.InboxFailed && row.Error == "" {
				t.Error("failure not recorded")
			}
		})
	}
}

func TestDispatcherNotFound(t *testing.T) {
	router, err := inbox.NewRouter(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &inbox.Dispatcher{Inbox: mustInbox(t), Router: router}
	if err := d.HandleDelivery(context.Background(), "wxa", 99); !miniback.IsNotFound(err) {
		t.Errorf("err = %v, want not_found", err)
	}
}

func TestParseInboxID(t *testing.T) {
	tests := []struct {
		data string
		want int64
		ok   bool
	}{{"12", 12, true}, {" 7\n", 7, true}, {"0", 0, false}, {"-1", 0, false}, {"x", 0, false}, {"", 0, false}}
	for _, tt := range tests {
		got, err := inbox.ParseInboxID([]byte(tt.data))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseInboxID(%q) = %d, %v", tt.data, got, err)
		}
	}
}

// TestPortalRequeue: a received row whose publish was lost is published
// again by Requeue.
func TestPortalRequeue(t *testing.T) {
	env := newPortalEnv(t)
	env.queue.err = errQueueDown
	p := buildPush(t, "wxplainjson", "plain", push.FormatJSON, readSample(t, "text.json"), testNow.Unix())
	if status, _ := env.send(t, p); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", status)
	}
	env.queue.mu.Lock()
	env.queue.err = nil
	env.queue.mu.Unlock()
	env.portal.Now = func() time.Time { return testNow.Add(time.Hour) }
	n, err := env.portal.Requeue(context.Background(), time.Minute, 10)
	if err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v", n, err)
	}
	rows := env.rows(t, "wxplainjson")
	if pubs := env.queue.all(); len(pubs) != 1 || pubs[0].msgID != fmt.Sprintf("inbox-%d", rows[0].ID) {
		t.Errorf("published %+v", pubs)
	}
}

// addRows stores n received text pushes of wxa and returns their ids.
func addRows(t *testing.T, store miniback.InboxStore, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		in := inboxOf(t, "wxa", "text.json")
		in.ID, in.DedupKey = 0, fmt.Sprintf("batch-%d", i)
		if _, err := store.AddInbox(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		ids[i] = in.ID
	}
	return ids
}

func statuses(t *testing.T, store miniback.InboxStore, ids []int64) string {
	t.Helper()
	rows, err := store.InboxMessages(context.Background(), "wxa", ids)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range rows {
		s = append(s, r.Status)
	}
	return fmt.Sprint(s)
}

// TestHandleBatch: the received rows of a batch are handled once each and
// finished with their verdicts, a finished row is skipped, a repeated id
// runs once, and an id without a row is reported missing.
func TestHandleBatch(t *testing.T) {
	store := mustInbox(t)
	ids := addRows(t, store, 3)
	if err := store.FinishInbox(context.Background(), ids[0], miniback.InboxHandled, "", testNow); err != nil {
		t.Fatal(err)
	}
	runs := map[int64]int{}
	h := inbox.HandlerFunc(func(_ context.Context, _ *push.Message, in *miniback.InboxMessage) error {
		runs[in.ID]++
		if in.ID == ids[2] {
			return errors.New("boom")
		}
		return nil
	})
	router, err := inbox.NewRouter([]inbox.Rule{{Handler: "h"}}, inbox.WithHandler("h", h))
	if err != nil {
		t.Fatal(err)
	}
	d := &inbox.Dispatcher{Inbox: store, Router: router, Now: func() time.Time { return testNow }}
	res, err := d.HandleBatch(context.Background(), "wxa", []int64{ids[2], 999, ids[0], ids[1], ids[1]})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Missing) != "[999]" || len(res.Deferred) != 0 {
		t.Errorf("result %+v, want 999 missing, none deferred", res)
	}
	if runs[ids[0]] != 0 || runs[ids[1]] != 1 || runs[ids[2]] != 1 {
		t.Errorf("handler runs %v: want none for the finished row, one for each other", runs)
	}
	if got := statuses(t, store, ids); got != "[handled handled failed]" {
		t.Errorf("statuses %s", got)
	}
}

// failingFinish is an inbox whose FinishInboxes fails: the process dying
// before the batch's rows are written.
type failingFinish struct{ miniback.InboxStore }

func (failingFinish) FinishInboxes(context.Context, []int64, string, string, time.Time) error {
	return errors.New("disk gone")
}

// TestHandleBatchNotFinished: when the batch's rows cannot be written the
// batch fails (nothing is acknowledged), every row stays received, and the
// redelivery handles them all again: at least once, none lost.
func TestHandleBatchNotFinished(t *testing.T) {
	store := mustInbox(t)
	ids := addRows(t, store, 3)
	var runs atomic.Int32
	router, err := inbox.NewRouter([]inbox.Rule{{Handler: "h"}}, inbox.WithHandler("h",
		inbox.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error { runs.Add(1); return nil })))
	if err != nil {
		t.Fatal(err)
	}
	broken := &inbox.Dispatcher{Inbox: failingFinish{store}, Router: router}
	if _, err := broken.HandleBatch(context.Background(), "wxa", ids); err == nil {
		t.Fatal("HandleBatch succeeded though its rows were not written")
	}
	if got := statuses(t, store, ids); got != "[received received received]" {
		t.Fatalf("after the failed write: %s, want every row received", got)
	}
	d := &inbox.Dispatcher{Inbox: store, Router: router}
	if _, err := d.HandleBatch(context.Background(), "wxa", ids); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, store, ids); got != "[handled handled handled]" || runs.Load() != 6 {
		t.Errorf("after the redelivery: %s, %d handler runs; want all handled, 6 runs", got, runs.Load())
	}
}

// TestHandleBatchShutdown: a handler cut short by shutdown leaves its row
// and the rest of the batch received for redelivery, while the rows handled
// before it are finished (their handlers do not run again).
func TestHandleBatchShutdown(t *testing.T) {
	store := mustInbox(t)
	ids := addRows(t, store, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := inbox.HandlerFunc(func(ctx context.Context, _ *push.Message, in *miniback.InboxMessage) error {
		if in.ID == ids[1] {
			cancel()
			return ctx.Err()
		}
		return nil
	})
	router, err := inbox.NewRouter([]inbox.Rule{{Handler: "h"}}, inbox.WithHandler("h", h))
	if err != nil {
		t.Fatal(err)
	}
	d := &inbox.Dispatcher{Inbox: store, Router: router}
	if _, err := d.HandleBatch(ctx, "wxa", ids); err == nil {
		t.Fatal("HandleBatch returned nil after a shutdown")
	}
	if got := statuses(t, store, ids); got != "[handled received received]" {
		t.Errorf("statuses %s, want the first handled, the rest received", got)
	}
}

// TestHandleBatchTime: once a slow handler has used up the batch's time,
// the rows not started are deferred (left received, for redelivery) and
// those handled are finished.
func TestHandleBatchTime(t *testing.T) {
	store := mustInbox(t)
	ids := addRows(t, store, 3)
	now := testNow
	slow := inbox.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error {
		now = now.Add(3 * time.Second) // the handler's time, on the Dispatcher's clock
		return nil
	})
	router, err := inbox.NewRouter([]inbox.Rule{{Handler: "h"}}, inbox.WithHandler("h", slow))
	if err != nil {
		t.Fatal(err)
	}
	d := &inbox.Dispatcher{Inbox: store, Router: router, Now: func() time.Time { return now }}
	res, err := d.HandleBatch(context.Background(), "wxa", ids)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Deferred) != fmt.Sprint(ids[1:]) {
		t.Errorf("deferred %v, want %v", res.Deferred, ids[1:])
	}
	if got := statuses(t, store, ids); got != "[handled received received]" {
		t.Errorf("statuses %s, want the first handled, the rest received", got)
	}
}
