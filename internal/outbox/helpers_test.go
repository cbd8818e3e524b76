package outbox

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechat"
)

const (
	testAppID  = "wxoutboxtest00001"
	testSecret = "outbox-test-secret"
	testOpenID = "o-outbox-user"

	subscribePath = "/cgi-bin/message/subscribe/send"
	customPath    = "/cgi-bin/message/custom/send"

	waitTimeout = 15 * time.Second
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is the real stack an Outbox runs on: a SQLite store, an embedded
// queue, the sandbox in httptest and a WeChat client pointing at it.
type env struct {
	store    *sqlite.MessageStore
	queueCfg queue.Config
	q        *queue.Queue
	sandbox  *sandbox.Server
	sender   Sender
	clock    *clock
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	db := sqlite.NewDB(filepath.Join(dir, "miniback.db"))
	if err := db.Open(ctx); err != nil {
		tb.Fatalf("open db: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	sb := sandbox.New(sandbox.Config{Apps: []sandbox.App{{AppID: testAppID, Secret: testSecret}}})
	srv := httptest.NewServer(sb)
	tb.Cleanup(srv.Close)
	if _, err := sb.Login(testAppID, testOpenID); err != nil {
		tb.Fatalf("sandbox login: %v", err)
	}
	client := wechat.NewClient(testAppID, testSecret, wechat.WithBaseURL(srv.URL))
	e := &env{
		store:    sqlite.NewMessageStore(db),
		queueCfg: queue.Config{DataDir: filepath.Join(dir, "queue"), AckWait: time.Second},
		sandbox:  sb,
		sender:   NewWeChatSender(map[string]*wechat.Client{testAppID: client}),
		clock:    newClock(),
	}
	e.q = e.openQueue(tb)
	return e
}

// openQueue opens the embedded queue on the env's DataDir.
func (e *env) openQueue(tb testing.TB) *queue.Queue {
	tb.Helper()
	q, err := queue.Open(context.Background(), e.queueCfg)
	if err != nil {
		tb.Fatalf("open queue: %v", err)
	}
	tb.Cleanup(func() { q.Close() })
	return q
}

// config is the test Config: fast retries, the env's clock, sweeps only
// when a test calls sweep (after the first one Run makes).
func (e *env) config() Config {
	return Config{
		BaseDelay:     20 * time.Millisecond,
		MaxDelay:      100 * time.Millisecond,
		SweepInterval: time.Hour,
		Now:           e.clock.Now,
		Rand:          func() float64 { return 1 },
	}
}

// run starts o.Run until the test ends.
func run(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func subscribeMessage(openid string) *miniback.Message {
	payload, _ := json.Marshal(map[string]any{
		"touser":      openid,
		"template_id": sandbox.DefaultTemplateID,
		"data": map[string]any{
			"thing1":  map[string]string{"value": "order shipped"},
			"number2": map[string]string{"value": "42"},
			"date3":   map[string]string{"value": "2026-11-21"},
			"phrase4": map[string]string{"value": "已发货"},
		},
	})
	return &miniback.Message{AppID: testAppID, Kind: miniback.KindSubscribe, OpenID: openid, Payload: payload}
}

func customMessage(openid, text string) *miniback.Message {
	payload, _ := json.Marshal(wechat.NewTextMessage(openid, text))
	return &miniback.Message{AppID: testAppID, Kind: miniback.KindCustomer, OpenID: openid, Payload: payload}
}

// waitStatus polls the store until message id has one of the statuses.
func (e *env) waitStatus(t *testing.T, id string, statuses ...string) *miniback.Message {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		m, err := e.store.Message(context.Background(), testAppID, id)
		if err != nil {
			t.Fatalf("Message: %v", err)
		}
		for _, s := range statuses {
			if m.Status == s {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s after %s, want one of %v", id, m.Status, waitTimeout, statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) inject(t *testing.T, f sandbox.Fault) {
	t.Helper()
	if err := e.sandbox.InjectFault(f); err != nil {
		t.Fatalf("InjectFault: %v", err)
	}
}
