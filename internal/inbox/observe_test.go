package inbox_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/push"
)

// observed records what an inbox.Observer is told.
type observed struct {
	mu      sync.Mutex
	handled []string
}

func (o *observed) PushReceived(appid, result string) {}
func (o *observed) PushLag(d time.Duration)           {}
func (o *observed) PushHandled(handler, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handled = append(o.handled, handler+" "+result)
}

// TestRouterReportsHandlerRuns: ok, failed, and retried when the handler
// failed because the instance is stopping (ctx ended).
func TestRouterReportsHandlerRuns(t *testing.T) {
	obs := &observed{}
	fail := inbox.HandlerFunc(func(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error {
		return errors.New("down")
	})
	okay := inbox.HandlerFunc(func(ctx context.Context, m *push.Message, in *miniback.InboxMessage) error { return nil })
	r, err := inbox.NewRouter([]inbox.Rule{{Handler: "okay", Continue: true}, {Handler: "fail"}},
		inbox.WithHandler("okay", okay), inbox.WithHandler("fail", fail), inbox.WithObserver(obs))
	if err != nil {
		t.Fatal(err)
	}
	in := inboxOf(t, "wxa", "text.json")
	_ = r.Dispatch(context.Background(), in)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = r.Dispatch(ctx, in)
	want := []string{"okay ok", "fail failed", "okay ok", "fail retried"}
	if !slices.Equal(obs.handled, want) {
		t.Fatalf("handler runs = %q, want %q", obs.handled, want)
	}
}
