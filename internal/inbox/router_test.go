package push_test

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

func (tr *tracer) handler(name string) push.Handler {
	return push.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.ran = append(tr.ran, name)
		return nil
	})
}

func TestRouterMatching(t *testing.T) {
	rules := []push.Rule{
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
			var opts []push.Option
			for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "never"} {
				opts = append(opts, push.WithHandler(n, tr.handler(n)))
			}
			r, err := push.NewRouter(rules, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Dispatch(context.Background(), inboxOf(t, tt.appid, tt.file)); err != nil {
				t.Fatal(err)
			}
			if strings.Join(tr.ran, ",") != strings.Join(tt.want, ",") {
				t.Errorf("ran %v, want %v", tr.ran, tt.want)
			}
			var matched []string
			m, _ := push.Parse(formatOf(tt.file), readSample(t, tt.file))
			for _, rule := range r.Match(tt.appid, m) {
				matched = append(matched, rule.Handler)
			}
			if strings.Join(matched, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Match = %v, want %v", matched, tt.want)
			}
		})
	}
}

func TestRouterExactContent(t *testing.T) {
	tr := &tracer{}
	r, err := push.NewRouter([]push.Rule{{Content: "this is a test", Handler: "x"}, {Content: "this", Handler: "y"}},
		push.WithHandler("x", tr.handler("x")), push.WithHandler("y", tr.handler("y")))
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
		rule push.Rule
		opts []push.Option
		want string
	}{
		{"no handler", push.Rule{MsgType: "text"}, nil, "handler is required"},
		{"unknown handler", push.Rule{Handler: "nope"}, nil, `unknown handler "nope"`},
		{"bad regex", push.Rule{Handler: "log", ContentRegex: "("}, nil, "content_regex"},
		{"auto_reply without reply", push.Rule{Handler: "auto_reply"}, []push.Option{push.WithReplier(replier)}, "exactly one"},
		{"auto_reply with both", push.Rule{Handler: "auto_reply", ReplyText: "a", ReplyMediaID: "m"}, []push.Option{push.WithReplier(replier)}, "exactly one"},
		{"auto_reply without replier", push.Rule{Handler: "auto_reply", ReplyText: "a"}, nil, "customer-service sender"},
		{"webhook without url", push.Rule{Handler: "webhook", WebhookSecret: "s"}, nil, "webhook_url"},
		{"webhook bad scheme", push.Rule{Handler: "webhook", WebhookURL: "ftp://x", WebhookSecret: "s"}, nil, "webhook_url"},
		{"webhook without secret", push.Rule{Handler: "webhook", WebhookURL: "http://127.0.0.1/x"}, nil, "webhook_secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := push.NewRouter([]push.Rule{{Handler: "log"}, tt.rule}, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), "rules[1]") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want rules[1] and %q", err, tt.want)
			}
		})
	}
}

func TestRouterRegisterAndErrors(t *testing.T) {
	boom := errors.New("boom")
	r, err := push.NewRouter([]push.Rule{{Handler: "custom"}}, push.WithHandler("custom", push.HandlerFunc(
		func(context.Context, *push.Message, *miniback.InboxMessage) error { return nil })))
	if err != nil {
		t.Fatal(err)
	}
	r.Register("custom", push.HandlerFunc(func(context.Context, *push.Message, *miniback.InboxMessage) error { return boom }))
	err = r.Dispatch(context.Background(), inboxOf(t, "wxa", "text.json"))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "rules[0]") {
		t.Errorf("err = %v", err)
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	r, err := push.NewRouter([]push.Rule{{Handler: "log", WebhookSecret: "unused"}}, push.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
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

// replies records ReplyCustomer calls.
type replies struct {
	mu    sync.Mutex
	calls []string
}

func (r *replies) ReplyCustomer(_ context.Context, appid, openid string, payload json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, appid+" "+openid+" "+string(payload))
	return nil
}

func TestAutoReply(t *testing.T) {
	tests := []struct {
		name string
		rule push.Rule
		file string
		want []string
	}{
		{"text", push.Rule{MsgType: "text", Handler: "auto_reply", ReplyText: "hi <there>"}, "text.json",
			[]string{`wxa fromUser {"touser":"fromUser","msgtype":"text","text":{"content":"hi \u003cthere\u003e"}}`}},
		{"image", push.Rule{Handler: "auto_reply", ReplyMediaID: "MEDIA"}, "image.xml",
			[]string{`wxa fromUser {"touser":"fromUser","msgtype":"image","image":{"media_id":"MEDIA"}}`}},
		{"never for events", push.Rule{Handler: "auto_reply", ReplyText: "x"}, "user_enter_tempsession.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := &replies{}
			r, err := push.NewRouter([]push.Rule{tt.rule}, push.WithReplier(rp))
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
	got      []push.WebhookBody
	tries    atomic.Int32
	now      time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(rc.tries.Add(1))
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get(push.HeaderTimestamp)
	if got, want := r.Header.Get(push.HeaderSignature), push.SignWebhook([]byte(rc.secret), ts, body); got != want || !strings.HasPrefix(got, "sha256=") {
		rc.t.Errorf("signature %q, want %q", got, want)
	}
	if ts != strconv.FormatInt(rc.now.Unix(), 10) {
		rc.t.Errorf("timestamp %q", ts)
	}
	if d := r.Header.Get(push.HeaderDelivery); d != "42" {
		rc.t.Errorf("delivery %q", d)
	}
	if n <= len(rc.statuses) {
		w.WriteHeader(rc.statuses[n-1])
		return
	}
	var b push.WebhookBody
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
			opts := push.WebhookOptions{Client: srv.Client(), BaseDelay: time.Second, Now: func() time.Time { return now },
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
			r, err := push.NewRouter([]push.Rule{{Handler: "webhook", WebhookURL: srv.URL + "/hook", WebhookSecret: "s3cret"}},
				push.WithWebhookOptions(opts))
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

// TestWebhookNetworkError: a receiver that is gone is retried, then fails.
func TestWebhookNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	tries := 0
	r, err := push.NewRouter([]push.Rule{{Handler: "webhook", WebhookURL: url, WebhookSecret: "s"}},
		push.WithWebhookOptions(push.WebhookOptions{Attempts: 3, Sleep: func(context.Context, time.Duration) error { tries++; return nil }}))
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
