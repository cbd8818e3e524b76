package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechat"
)

func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		msg     func() *miniback.Message
		setup   func(t *testing.T, e *env)
		cfg     func(c *Config)
		status  string
		tries   int // attempts recorded
		errcode int
		sent    int // messages the sandbox received
	}{
		{name: "subscribe sent", msg: func() *miniback.Message { return subscribeMessage(testOpenID) },
			status: miniback.MessageSent, tries: 1, sent: 1},
		{name: "customer sent", msg: func() *miniback.Message { return customMessage(testOpenID, "hi") },
			status: miniback.MessageSent, tries: 1, sent: 1},
		{name: "two system errors then sent", msg: func() *miniback.Message { return subscribeMessage(testOpenID) },
			setup: func(t *testing.T, e *env) {
				e.inject(t, sandbox.Fault{Path: subscribePath, ErrCode: -1, Count: 2})
			},
			status: miniback.MessageSent, tries: 3, sent: 1},
		{name: "HTTP 503 then sent", msg: func() *miniback.Message { return customMessage(testOpenID, "hi") },
			setup: func(t *testing.T, e *env) {
				e.inject(t, sandbox.Fault{Path: customPath, HTTPStatus: 503})
			},
			status: miniback.MessageSent, tries: 2, sent: 1},
		{name: "user refused fails at once", msg: func() *miniback.Message { return subscribeMessage(testOpenID) },
			setup: func(t *testing.T, e *env) {
				if err := e.sandbox.SetSubscription(testAppID, testOpenID, sandbox.DefaultTemplateID, false); err != nil {
					t.Fatal(err)
				}
			},
			status: miniback.MessageFailed, tries: 1, errcode: 43101},
		{name: "reply window closed fails at once", msg: func() *miniback.Message { return customMessage(testOpenID, "hi") },
			setup: func(t *testing.T, e *env) {
				e.inject(t, sandbox.Fault{Path: customPath, ErrCode: 45015})
			},
			status: miniback.MessageFailed, tries: 1, errcode: 45015},
		{name: "unknown openid fails at once", msg: func() *miniback.Message { return subscribeMessage("o-nobody") },
			status: miniback.MessageFailed, tries: 1, errcode: 40003},
		{name: "attempts exhausted", msg: func() *miniback.Message { return subscribeMessage(testOpenID) },
			setup: func(t *testing.T, e *env) {
				e.inject(t, sandbox.Fault{Path: subscribePath, ErrCode: 45009, Count: 10})
			},
			cfg:    func(c *Config) { c.MaxAttempts = 3 },
			status: miniback.MessageFailed, tries: 3, errcode: 45009},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			cfg := e.config()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			o := New(e.store, e.q, e.sender, cfg)
			run(t, o)
			m := tt.msg()
			if err := o.Enqueue(t.Context(), m); err != nil {
				t.Fatalf("Enqueue: %v", err)
			}
			got := e.waitStatus(t, m.ID, miniback.MessageSent, miniback.MessageFailed)
			if got.Status != tt.status || got.Attempts != tt.tries || got.WeChatErrCode != tt.errcode {
				t.Errorf("got status %s, attempts %d, errcode %d (error %q); want %s, %d, %d",
					got.Status, got.Attempts, got.WeChatErrCode, got.Error, tt.status, tt.tries, tt.errcode)
			}
			if n := len(e.sandbox.Sent(testAppID, "")); n != tt.sent {
				t.Errorf("sandbox received %d messages, want %d", n, tt.sent)
			}
			checkOutcomeFields(t, got)
		})
	}
}

// checkOutcomeFields checks the fields that go with the final status.
func checkOutcomeFields(t *testing.T, m *miniback.Message) {
	t.Helper()
	switch m.Status {
	case miniback.MessageSent:
		if m.SentAt.IsZero() || m.Error != "" || (m.Kind == miniback.KindSubscribe && m.WeChatMsgID == "") {
			t.Errorf("sent message: sent_at %v, error %q, wechat msgid %q", m.SentAt, m.Error, m.WeChatMsgID)
		}
	case miniback.MessageFailed:
		if m.Error == "" || !m.SentAt.IsZero() {
			t.Errorf("failed message: error %q, sent_at %v", m.Error, m.SentAt)
		}
	}
}

// TestCrashAfterSendIsNotResent kills the instance between WeChat's
// success and the recording of it, then starts a new one on the same store
// and queue storage: the message must end failed "interrupted", not be
// sent again.
func TestCrashAfterSendIsNotResent(t *testing.T) {
	e := newEnv(t)
	o := New(e.store, e.q, e.sender, e.config())
	answered := make(chan struct{})
	o.afterSend = func(ctx context.Context, _ *miniback.Message) bool {
		close(answered)
		<-ctx.Done() // the process is dying
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	m := subscribeMessage(testOpenID)
	if err := o.Enqueue(t.Context(), m); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	<-answered
	if err := e.q.Close(); err != nil { // the crash: nothing recorded, nothing acked
		t.Fatalf("close queue: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := e.waitStatus(t, m.ID, miniback.MessageSending); got.Attempts != 1 {
		t.Fatalf("after the crash: attempts %d, want 1", got.Attempts)
	}

	e.clock.Add(DefaultLease + time.Second)
	o2 := New(e.store, e.openQueue(t), e.sender, e.config())
	run(t, o2)
	got := e.waitStatus(t, m.ID, miniback.MessageFailed, miniback.MessageSent)
	if got.Status != miniback.MessageFailed || got.Error != interruptedError || got.Attempts != 1 {
		t.Errorf("got %s %q attempts %d, want failed %q attempts 1", got.Status, got.Error, got.Attempts, interruptedError)
	}
	if n := len(e.sandbox.Sent(testAppID, testOpenID)); n != 1 {
		t.Errorf("sandbox received %d messages, want 1", n)
	}
}

// TestRedeliveryWithinLeaseLeavesClaim delivers a message that another
// instance is sending (claimed within the lease): it is left alone.
func TestRedeliveryWithinLeaseLeavesClaim(t *testing.T) {
	e := newEnv(t)
	o := New(e.store, e.q, e.sender, e.config())
	m := subscribeMessage(testOpenID)
	m.ID, m.CreatedAt = "claimed-elsewhere", e.clock.Now()
	if err := e.store.CreateMessage(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.store.ClaimMessage(t.Context(), m.ID, e.clock.Now()); !ok || err != nil {
		t.Fatalf("ClaimMessage: %v %v", ok, err)
	}
	if err := o.unclaimed(t.Context(), mustMessage(t, e, m.ID)); err != nil {
		t.Fatalf("unclaimed: %v", err)
	}
	if got := mustMessage(t, e, m.ID); got.Status != miniback.MessageSending {
		t.Errorf("status %s, want sending", got.Status)
	}
	e.clock.Add(DefaultLease + time.Second)
	if err := o.unclaimed(t.Context(), mustMessage(t, e, m.ID)); err != nil {
		t.Fatalf("unclaimed: %v", err)
	}
	if got := mustMessage(t, e, m.ID); got.Status != miniback.MessageFailed || got.Error != interruptedError {
		t.Errorf("after the lease: %s %q, want failed %q", got.Status, got.Error, interruptedError)
	}
}

func mustMessage(t *testing.T, e *env, id string) *miniback.Message {
	t.Helper()
	m, err := e.store.Message(t.Context(), testAppID, id)
	if err != nil {
		t.Fatalf("Message: %v", err)
	}
	return m
}

// TestSweeperRepublishesLostPublish enqueues while the queue is down (the
// publish is lost, the row stays queued) and checks that a sweep on a new
// queue sends the message.
func TestSweeperRepublishesLostPublish(t *testing.T) {
	e := newEnv(t)
	if err := e.q.Close(); err != nil {
		t.Fatal(err)
	}
	o := New(e.store, e.q, e.sender, e.config())
	m := customMessage(testOpenID, "late but sent")
	if err := o.Enqueue(t.Context(), m); err != nil {
		t.Fatalf("Enqueue with the queue down: %v", err)
	}
	if got := mustMessage(t, e, m.ID); got.Status != miniback.MessageQueued {
		t.Fatalf("status %s, want queued", got.Status)
	}

	o2 := New(e.store, e.openQueue(t), e.sender, e.config())
	run(t, o2)
	e.clock.Add(o2.cfg.SweepInterval + time.Second)
	if err := o2.sweep(t.Context()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if got := e.waitStatus(t, m.ID, miniback.MessageSent, miniback.MessageFailed); got.Status != miniback.MessageSent {
		t.Errorf("status %s (%s), want sent", got.Status, got.Error)
	}
	if n := len(e.sandbox.Sent(testAppID, testOpenID)); n != 1 {
		t.Errorf("sandbox received %d messages, want 1", n)
	}
}

func TestEnqueue(t *testing.T) {
	e := newEnv(t)
	o := New(e.store, e.q, e.sender, e.config())
	tests := []struct {
		name string
		msg  *miniback.Message
		code string
	}{
		{name: "no appid", msg: &miniback.Message{Kind: miniback.KindCustomer}, code: miniback.ECodeInvalidRequest},
		{name: "bad kind", msg: &miniback.Message{AppID: testAppID, Kind: "sms"}, code: miniback.ECodeInvalidRequest},
		{name: "ok", msg: customMessage(testOpenID, "x")},
		{name: "existing id", msg: &miniback.Message{ID: "dup", AppID: testAppID, Kind: miniback.KindCustomer}},
		{name: "existing id again", msg: &miniback.Message{ID: "dup", AppID: testAppID, Kind: miniback.KindCustomer},
			code: miniback.ECodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := o.Enqueue(t.Context(), tt.msg)
			if got := miniback.ErrorCode(err); got != tt.code {
				t.Fatalf("Enqueue error %v (code %q), want code %q", err, got, tt.code)
			}
			if err == nil && (tt.msg.ID == "" || tt.msg.Status != miniback.MessageQueued || tt.msg.CreatedAt.IsZero()) {
				t.Errorf("enqueued message: id %q, status %q, created %v", tt.msg.ID, tt.msg.Status, tt.msg.CreatedAt)
			}
		})
	}
}

func TestWeChatSenderRejects(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		msg  *miniback.Message
		want string
	}{
		{name: "unknown app", msg: &miniback.Message{AppID: "wxother", Kind: miniback.KindCustomer}, want: "no WeChat client"},
		{name: "unknown kind", msg: &miniback.Message{AppID: testAppID, Kind: "sms"}, want: "unknown message kind"},
		{name: "bad subscribe payload", msg: &miniback.Message{AppID: testAppID, Kind: miniback.KindSubscribe,
			Payload: []byte(`[1]`)}, want: "subscribe payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.sender.Send(t.Context(), tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const base, maxDelay = time.Second, 5 * time.Minute
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{n: 1, r: 1, want: time.Second},
		{n: 2, r: 1, want: 2 * time.Second},
		{n: 3, r: 1, want: 4 * time.Second},
		{n: 8, r: 1, want: 128 * time.Second},
		{n: 9, r: 1, want: 256 * time.Second},
		{n: 10, r: 1, want: maxDelay},
		{n: 1000, r: 1, want: maxDelay},
		{n: 3, r: 0.5, want: 2 * time.Second},
		{n: 3, r: 0, want: 0},
		{n: 1000, r: 0.25, want: maxDelay / 4},
	}
	for _, tt := range tests {
		if got := backoff(base, maxDelay, tt.n, tt.r); got != tt.want {
			t.Errorf("backoff(n=%d, r=%g) = %s, want %s", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestErrCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errors.New("plain"), 0},
		{&wechat.Error{Code: 43101}, 43101},
		{fmt.Errorf("wrapped: %w", &wechat.Error{Code: -1}), -1},
		{&wechat.HTTPError{StatusCode: 503}, 0},
	}
	for _, tt := range tests {
		if got := errCode(tt.err); got != tt.want {
			t.Errorf("errCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func BenchmarkEnqueue(b *testing.B) {
	e := newEnv(b)
	o := New(e.store, e.q, e.sender, e.config())
	ctx := context.Background()
	for b.Loop() {
		if err := o.Enqueue(ctx, customMessage(testOpenID, "bench")); err != nil {
			b.Fatal(err)
		}
	}
}
