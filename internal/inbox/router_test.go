package inbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/push"
)

// inboxOf builds an inbox message from a sample file, as the Portal would.
func inboxOf(t testing.TB, appid, file string) *miniback.InboxMessage {
	t.Helper()
	m, err := push.Parse(formatOf(file), readSample(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return &miniback.InboxMessage{ID: 42, AppID: appid, DedupKey: m.DedupKey(), MsgType: m.MsgType,
		Event: m.Event, FromUser: m.FromUserName, CreateTime: m.CreateTime, Message: m.Fields, Status: miniback.InboxReceived}
}

// tracer records which handlers ran.
type tracer struct {
	mu  sync.Mutex
	ran []string
}

func (tr *tracer) handler(name string) inbox.Handler {
	return inbox.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.ran = append(tr.ran, name)
		return nil
	})
}

func TestRouterMatching(t *testing.T) {
	rules := []inbox.Rule{
		{AppID: "wxother", Handler: "a"},
		{MsgType: "text", Content: "exact", Handler: "b"},
		{MsgType: "text", ContentRegex: `^this is`, Handler: "c", Continue: true},
		{MsgType: "text", Handler: "d"},
		{MsgType: "event", Event: "subscribe_msg_popup_event", Handler: "e", Continue: true},
		{MsgType: "EVENT", Handler: "f", Continue: true},
		{Handler: "g"},
		{Handler: "never"},
	}
	tests := []struct {
		name, appid, file string
		want              []string
	}{
		{"appid rule first", "wxother", "text.json", []string{"a"}},
		{"regex continues, then first plain stops", "wxa", "text.json", []string{"c", "d"}},
		{"XML origin routes alike", "wxa", "text.xml", []string{"c", "d"}},
		{"image matches only the catch-all", "wxa", "image.json", []string{"g"}},
		{"event chain with continue", "wxa", "subscribe_msg_popup_event.json", []string{"e", "f", "g"}},
		{"other event", "wxa", "user_enter_tempsession.xml", []string{"f", "g"}},
		{"unknown event kept", "wxa", "unknown_event.json", []string{"f", "g"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &tracer{}
			var opts []inbox.Option
			for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "never"} {
				opts = append(opts, inbox.WithHandler(n, tr.handler(n)))
			}
			r, err := inbox.NewRouter(rules, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Dispatch(context.Background(), inboxOf(t, tt.appid, tt.file)); err != nil {
				t.Fatal(err)
			}
			if strings.Join(tr.ran, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ran %v, want %v", tr.ran, tt.want)
			}
		})
	}
}

func TestRouterExactContent(t *testing.T) {
	tr := &tracer{}
	r, err := inbox.NewRouter([]inbox.Rule{{Content: "this is a test", Handler: "x"}, {Content: "this", Handler: "y"}},
		inbox.WithHandler("x", tr.handler("x")), inbox.WithHandler("y", tr.handler("y")))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.xml")); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tr.ran, ",") != "x" {
		t.Errorf("ran %v", tr.ran)
	}
}

func TestNewRouterErrors(t *testing.T) {
	replier := &replies{}
	tests := []struct {
		name string
		rule inbox.Rule
		opts []inbox.Option
		want string
	}{
		{"no handler", inbox.Rule{MsgType: "text"}, nil, "handler is required"},
		{"unknown handler", inbox.Rule{Handler: "nope"}, nil, `unknown handler "nope"`},
		{"bad regex", inbox.Rule{Handler: "log", ContentRegex: "("}, nil, "content_regex"},
		{"auto_reply without reply", inbox.Rule{Handler: "auto_reply"}, []inbox.Option{inbox.WithReplies(replier)}, "exactly one"},
		{"auto_reply with both", inbox.Rule{Handler: "auto_reply", ReplyText: "a", ReplyMediaID: "m"}, []inbox.Option{inbox.WithReplies(replier)}, "exactly one"},
		{"auto_reply without replier", inbox.Rule{Handler: "auto_reply", ReplyText: "a"}, nil, "customer-service sender"},
		{"webhook without url", inbox.Rule{Handler: "webhook", WebhookSecret: "s"}, nil, "webhook_url"},
		{"webhook bad scheme", inbox.Rule{Handler: "webhook", WebhookURL: "ftp://x", WebhookSecret: "s"}, nil, "webhook_url"},
		{"webhook without secret", inbox.Rule{Handler: "webhook", WebhookURL: "http://127.0.0.1/x"}, nil, "webhook_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inbox.NewRouter([]inbox.Rule{{Handler: "log"}, tt.rule}, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), "rules[1]") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want rules[1] and %q", err, tt.want)
			}
		})
	}
}

// TestRouterHandlerErrors: a handler's error comes back wrapped with the
// rule index, and a handler given under a built-in name replaces it.
func TestRouterHandlerErrors(t *testing.T) {
	boom := errors.New("boom")
	failing := inbox.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error { return boom })
	r, err := inbox.NewRouter([]inbox.Rule{{MsgType: "image", Handler: "log"}, {Handler: "log"}}, inbox.WithHandler("log", failing))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.json"))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "rules[1]") {
		t.Errorf("err = %v", err)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	r, err := inbox.NewRouter([]inbox.Rule{{Handler: "log", WebhookSecret: "unused"}}, inbox.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.json")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"appid=wxa", "msg_type=text", "from=fromUser", "inbox_id=42"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "this is a test") {
		t.Errorf("log %q contains the content", out)
	}
}

// replies records the customer messages auto_reply queues.
type replies struct {
	mu    sync.Mutex
	calls []string
}

func (r *replies) Enqueue(_ context.Context, m *miniback.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, m.AppID+" "+m.Kind+" "+m.OpenID+" "+string(m.Payload))
	return nil
}

func TestAutoReply(t *testing.T) {
	tests := []struct {
		name string
		rule inbox.Rule
		file string
		want []string
	}{
		// WeChat shows \u0026 literally: the reply goes out unescaped (issue #6 item 12).
		{"text", inbox.Rule{MsgType: "text", Handler: "auto_reply", ReplyText: "Q&A <x>"}, "text.json",
			[]string{`wxa customer fromUser {"touser":"fromUser","msgtype":"text","text":{"content":"Q&A <x>"}}`}},
		{"image", inbox.Rule{Handler: "auto_reply", ReplyMediaID: "MEDIA"}, "image.xml",
			[]string{`wxa customer fromUser {"touser":"fromUser","msgtype":"image","image":{"media_id":"MEDIA"}}`}},
		{"never for events", inbox.Rule{Handler: "auto_reply", ReplyText: "x"}, "user_enter_tempsession.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := &replies{}
			r, err := inbox.NewRouter([]inbox.Rule{tt.rule}, inbox.WithReplies(rp))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Dispatch(context.Background(), inboxOf(t, "wxa", tt.file)); err != nil {
				t.Fatal(err)
			}
			if strings.Join(rp.calls, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("calls %q, want %q", rp.calls, tt.want)
			}
		})
	}
}

// receiver is an httptest webhook receiver that checks signatures and
// answers the statuses it is given, then 200.
type receiver struct {
	t        *testing.T
	secret   string
	statuses []int
	mu       sync.Mutex
	got      []inbox.WebhookBody
	tries    atomic.Int32
	now      time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(rc.tries.Add(1))
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get(inbox.HeaderTimestamp)
	if got, want := r.Header.Get(inbox.HeaderSignature), inbox.SignWebhook([]byte(rc.secret), ts, body); got != want || !strings.HasPrefix(got, "sha256=") {
		rc.t.Errorf("signature %q, want %q", got, want)
	}
	if ts != strconv.FormatInt(rc.now.Unix(), 10) {
		rc.t.Errorf("timestamp %q", ts)
	}
	if d := r.Header.Get(inbox.HeaderDelivery); d != "42" {
		rc.t.Errorf("delivery %q", d)
	}
	if n <= len(rc.statuses) {
		w.WriteHeader(rc.statuses[n-1])
		return
	}
	var b inbox.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, b)
	rc.mu.Unlock()
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		wantErr   bool
		wantTries int32
	}{
		{"ok", nil, false, 1},
		{"500 then success", []int{500, 503, 429}, false, 4},
		{"fails after the last try", []int{500, 500, 500, 500, 500}, true, 5},
		{"4xx is permanent", []int{400}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1700000000, 0)
			rc := &receiver{t: t, secret: "s3cret", statuses: tt.statuses, now: now}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			var slept []time.Duration
			opts := inbox.WebhookOptions{Client: srv.Client(), BaseDelay: time.Second, Now: func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			r, err := inbox.NewRouter([]inbox.Rule{{Handler: "webhook", WebhookURL: srv.URL + "/hook", WebhookSecret: "s3cret"}},
				inbox.WithWebhookOptions(opts))
			if err != nil {
				t.Fatal(err)
			}
			err = r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.xml"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if n := rc.tries.Load(); n != tt.wantTries {
				t.Errorf("%d tries, want %d", n, tt.wantTries)
			}
			for i, d := range slept {
				lo := time.Second << i / 2
				if d < lo || d > 2*lo {
					t.Errorf("backoff %d = %v, want in [%v, %v]", i, d, lo, 2*lo)
				}
			}
			if !tt.wantErr {
				if len(rc.got) != 1 || rc.got[0].AppID != "wxa" || rc.got[0].InboxID != 42 || !strings.Contains(string(rc.got[0].Message), `"Content":"this is a test"`) {
					t.Errorf("received %+v", rc.got)
				}
			}
		})
	}
}

// TestWebhookNoRedirect: a 3xx is a permanent failure; the signed body is
// never sent to the Location (issue #6 item 6).
func TestWebhookNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var tries atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tries.Add(1)
			http.Redirect(w, r, other.URL+"/stolen", status)
		}))
		r, err := inbox.NewRouter([]inbox.Rule{{Handler: "webhook", WebhookURL: srv.URL, WebhookSecret: "s"}},
			inbox.WithWebhookOptions(inbox.WebhookOptions{Client: srv.Client(), Sleep: func(context.Context, time.Duration) error { return nil }}))
		if err != nil {
			t.Fatal(err)
		}
		err = r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.json"))
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(status)) {
			t.Errorf("%d: err = %v, want a permanent failure naming the status", status, err)
		}
		if n := tries.Load(); n != 1 {
			t.Errorf("%d: %d tries, want 1 (permanent)", status, n)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target received %d posts", n)
	}
}

// TestWebhookNetworkError: a receiver that is gone is retried, then fails.
func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	tries := 0
	r, err := inbox.NewRouter([]inbox.Rule{{Handler: "webhook", WebhookURL: url, WebhookSecret: "s"}},
		inbox.WithWebhookOptions(inbox.WebhookOptions{Attempts: 3, Sleep: func(context.Context, time.Duration) error { tries++; return nil }}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.json")); err == nil {
		t.Fatal("want an error")
	}
	if tries != 2 {
		t.Errorf("%d sleeps, want 2", tries)
	}
}
