package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/sandbox"
)

const xmlAppID = "wx00000000000000a1"

// withXMLApp adds a second app whose pushes are XML, and keeps the
// embedded sandbox serving both.
func withXMLApp(c *config.Config) {
	c.Apps = append(c.Apps, config.App{AppID: xmlAppID, Secret: "xml-secret", Token: "xmltoken",
		AESKey: "c2FuZGJveGRlbW9hZXNrZXkwMTIzNDU2Nzg5YWJjZGU", MsgFormat: "XML", PushMode: "safe"})
	c.WeChat.APIBase = config.APIBaseSandbox
}

type inboxAnswer struct {
	Messages []struct {
		ID       int64           `json:"id"`
		MsgType  string          `json:"msg_type"`
		Event    string          `json:"event"`
		FromUser string          `json:"from_user"`
		Status   string          `json:"status"`
		Message  json.RawMessage `json:"message"`
	} `json:"messages"`
}

// waitInbox polls the admin inbox until n messages are in it and none is
// still "received", and returns it.
func (e *testEnv) waitInbox(appid string, n int) inboxAnswer {
	e.t.Helper()
	var in inboxAnswer
	for range 300 {
		in = inboxAnswer{}
		e.do("GET", "/admin/v1/"+appid+"/inbox?limit=100", adminKey, nil, &in)
		done := len(in.Messages) >= n
		for _, m := range in.Messages {
			done = done && m.Status != "received"
		}
		if done {
			return in
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("inbox of %s: %+v, want %d handled", appid, in, n)
	return in
}

// withPlainMode sets every app's push_mode to plain, which takes pushes in
// every mode.
func withPlainMode(c *config.Config) {
	for i := range c.Apps {
		c.Apps[i].PushMode = "plain"
	}
}

// TestPushEveryModeAndFormat sends a push in every mode of both formats,
// each delivered three times as WeChat retries, and expects each handled once.
func TestPushEveryModeAndFormat(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAdmin(c); withXMLApp(c); withPlainMode(c) })
	for _, appid := range []string{config.DemoAppID, xmlAppID} {
		for i, mode := range []string{sandbox.ModePlain, sandbox.ModeCompat, sandbox.ModeSafe} {
			msg := map[string]any{"ToUserName": "gh_1", "FromUserName": "o-user", "CreateTime": time.Now().Unix(),
				"MsgType": "text", "Content": fmt.Sprintf("hello %s <&>", mode), "MsgId": 7000000000000000001 + int64(i)}
			built, err := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: appid, Message: mustJSON(t, msg), Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				req, _ := built.Request(context.Background())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "success" {
					t.Fatalf("%s %s: %d %q", appid, mode, resp.StatusCode, body)
				}
			}
		}
		in := e.waitInbox(appid, 3)
		if len(in.Messages) != 3 {
			t.Fatalf("%s: %d inbox rows, want 3", appid, len(in.Messages))
		}
		for _, m := range in.Messages {
			if m.Status != "handled" || m.MsgType != "text" {
				t.Fatalf("%s: %+v", appid, m)
			}
		}
	}
}

// TestSafeModeRefusesPlainPush: the demo app has an aes_key, so its
// push_mode defaults to safe; a signed plaintext push (anyone who saw one
// push URL can make one) is 403 and reaches neither the inbox nor the
// verdict of a pending media check (issue #6 item 2).
func TestSafeModeRefusesPlainPush(t *testing.T) {
	e := startMain(t, withAdmin)
	msg := map[string]any{"ToUserName": "gh_1", "FromUserName": "o-user", "CreateTime": time.Now().Unix(),
		"MsgType": "event", "Event": "wxa_media_check", "trace_id": "forged", "result": map[string]any{"suggest": "pass", "label": 100}}
	for _, mode := range []string{sandbox.ModePlain, sandbox.ModeCompat} {
		built, err := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: config.DemoAppID, Message: mustJSON(t, msg), Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := built.Request(context.Background())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s push to a safe-mode app: %d, want 403", mode, resp.StatusCode)
		}
	}
	var in inboxAnswer
	e.do("GET", "/admin/v1/"+config.DemoAppID+"/inbox", adminKey, nil, &in)
	if len(in.Messages) != 0 {
		t.Fatalf("refused pushes reached the inbox: %+v", in.Messages)
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPushInvalidUTF8Refused: a signed push whose JSON or XML text holds
// bytes that are not UTF-8 is 400 and never reaches the inbox, so the
// admin inbox and webhook bodies stay valid UTF-8 JSON; the same message
// in valid UTF-8 is taken (issue #6 item 3).
func TestPushInvalidUTF8Refused(t *testing.T) {
	e := startMain(t, func(c *config.Config) { withAdmin(c); withXMLApp(c); withPlainMode(c) })
	now := time.Now().Unix()
	bodies := map[string]string{
		config.DemoAppID: `{"ToUserName":"gh_1","FromUserName":"o-user","CreateTime":%d,"MsgType":"text","Content":"bad %s","MsgId":%d}`,
		xmlAppID:         `<xml><ToUserName>gh_1</ToUserName><FromUserName>o-user</FromUserName><CreateTime>%d</CreateTime><MsgType>text</MsgType><Content>bad %s</Content><MsgId>%d</MsgId></xml>`,
	}
	for appid, body := range bodies {
		msg := mustJSON(t, map[string]any{"ToUserName": "gh_1", "FromUserName": "o-user", "CreateTime": now, "MsgType": "text", "Content": "x", "MsgId": 1})
		built, err := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: appid, Message: msg, Mode: sandbox.ModePlain})
		if err != nil {
			t.Fatal(err)
		}
		// A plaintext push's signature covers token, timestamp and nonce,
		// not the body: the sandbox's URL carries any body.
		sendPush(t, e.client, built, fmt.Appendf(nil, body, now, "\xff\xfe", 77), 400)
		sendPush(t, e.client, built, fmt.Appendf(nil, body, now, "ok", 78), 200)
		in := e.waitInbox(appid, 1)
		if len(in.Messages) != 1 || !json.Valid(in.Messages[0].Message) {
			t.Fatalf("%s inbox: %+v, want only the valid push", appid, in.Messages)
		}
	}
}

// TestAutoReplyReachesWeChatUnescaped: auto_reply's customer message is
// encoded like every body sent to WeChat, without HTML escaping, so "Q&A
// <x>" arrives as written and not as Q\u0026A \u003cx\u003e, which WeChat
// shows literally (issue #6 item 12).
func TestAutoReplyReachesWeChatUnescaped(t *testing.T) {
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		c.Push.Rules = []config.PushRule{{MsgType: "text", Handler: "auto_reply", ReplyText: "Q&A <x>"}}
	})
	l := e.login("quinn")
	msg := mustJSON(t, map[string]any{"ToUserName": "gh_1", "FromUserName": l.User.OpenID, "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "hello", "MsgId": 9})
	built, err := e.m.Sandbox.BuildPush(sandbox.PushRequest{AppID: config.DemoAppID, Message: msg, Mode: sandbox.ModeSafe})
	if err != nil {
		t.Fatal(err)
	}
	sendPush(t, e.client, built, built.Body, 200)
	var sent []sandbox.SentMessage
	for range 300 {
		if sent = e.m.Sandbox.Sent(config.DemoAppID, l.User.OpenID); len(sent) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(sent) != 1 {
		t.Fatalf("%d messages sent to WeChat, want 1", len(sent))
	}
	if !bytes.Contains(sent[0].Body, []byte(`"content":"Q&A <x>"`)) {
		t.Fatalf("sent to WeChat: %s, want the content unescaped", sent[0].Body)
	}
}

func TestPushRefusals(t *testing.T) {
	e := startMain(t, withAdmin)
	ok := map[string]any{"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "x", "MsgId": 1}
	var ans struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	stale := map[string]any{"appid": config.DemoAppID, "message": ok, "timestamp": time.Now().Add(-time.Hour).Unix()}
	if e.do("POST", "/sandbox/push", "", stale, &ans); ans.Status != 403 {
		t.Fatalf("stale push: %+v", ans)
	}
	for _, q := range []string{"", "?signature=x&timestamp=1&nonce=1", fmt.Sprintf("?signature=x&timestamp=%d&nonce=1", time.Now().Unix())} {
		if st, _ := e.do("POST", "/wx/portal/"+config.DemoAppID+q, "", `{"Encrypt":"x"}`, nil); st != 403 {
			t.Fatalf("unsigned push %q: %d", q, st)
		}
	}
	if st, _ := e.do("POST", "/wx/portal/wxunknown", "", `{}`, nil); st != 404 {
		t.Fatalf("unknown app: %d", st)
	}
	var in inboxAnswer
	e.do("GET", "/admin/v1/"+config.DemoAppID+"/inbox", adminKey, nil, &in)
	if len(in.Messages) != 0 {
		t.Fatalf("refused pushes were stored: %+v", in)
	}
}

func TestPortalURLVerification(t *testing.T) {
	e := startMain(t, nil)
	ts := fmt.Sprint(time.Now().Unix())
	sig := sortedSHA1("sandboxdemotoken", ts, "n1")
	resp, err := http.Get(e.base + "/wx/portal/" + config.DemoAppID + "?signature=" + sig + "&timestamp=" + ts + "&nonce=n1&echostr=4375120948345356249")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "4375120948345356249" {
		t.Fatalf("verify: %d %q", resp.StatusCode, body)
	}
	if st, _ := e.do("GET", "/wx/portal/"+config.DemoAppID+"?signature=bad&timestamp="+ts+"&nonce=n1&echostr=1", "", nil, nil); st != 403 {
		t.Fatalf("bad verify: %d", st)
	}
	// A correctly signed verification recorded an hour ago is past
	// push.max_age (issue #6 item 2).
	old := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
	if st, _ := e.do("GET", "/wx/portal/"+config.DemoAppID+"?signature="+sortedSHA1("sandboxdemotoken", old, "n1")+"&timestamp="+old+"&nonce=n1&echostr=1", "", nil, nil); st != 403 {
		t.Fatalf("stale verify: %d, want 403", st)
	}
}

// blockingHook is a webhook receiver that holds each delivery until released.
type blockingHook struct {
	srv      *httptest.Server
	arrived  chan string
	release  chan struct{}
	mu       sync.Mutex
	verified int
}

func newBlockingHook(t *testing.T, secret string) *blockingHook {
	h := &blockingHook{arrived: make(chan string, 10), release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(r.Header.Get("X-Miniback-Timestamp") + "." + string(body)))
		if r.Header.Get("X-Miniback-Signature") == "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			h.mu.Lock()
			h.verified++
			h.mu.Unlock()
		}
		h.arrived <- r.Header.Get("X-Miniback-Delivery")
		<-h.release
	}))
	t.Cleanup(func() { close(h.release); h.srv.Close() })
	return h
}

// TestSlowWebhookDoesNotDelaySuccess: while the webhook holds the message,
// the push has long been answered "success".
func TestSlowWebhookDoesNotDelaySuccess(t *testing.T) {
	hook := newBlockingHook(t, "hook-secret")
	e := startMain(t, func(c *config.Config) {
		withAdmin(c)
		c.Push.Rules = []config.PushRule{{MsgType: "text", ContentRegex: "^order", Handler: "webhook", WebhookURL: hook.srv.URL, WebhookSecret: "hook-secret"}}
	})
	msg := map[string]any{"ToUserName": "gh_1", "FromUserName": "o", "CreateTime": time.Now().Unix(), "MsgType": "text", "Content": "order 42", "MsgId": 99}
	var ans struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	e.do("POST", "/sandbox/push", "", map[string]any{"appid": config.DemoAppID, "message": msg}, &ans)
	if ans.Status != 200 || ans.Body != "success" {
		t.Fatalf("push: %+v", ans)
	}
	delivery := <-hook.arrived // the webhook is now holding the message
	var in inboxAnswer
	e.do("GET", "/admin/v1/"+config.DemoAppID+"/inbox", adminKey, nil, &in)
	if len(in.Messages) != 1 || in.Messages[0].Status != "received" || fmt.Sprint(in.Messages[0].ID) != delivery {
		t.Fatalf("inbox while the webhook holds it: %+v (delivery %s)", in, delivery)
	}
	hook.release <- struct{}{}
	if got := e.waitInbox(config.DemoAppID, 1); got.Messages[0].Status != "handled" {
		t.Fatalf("after the webhook answered: %+v", got)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.verified != 1 {
		t.Fatalf("webhook signature verified %d times, want 1", hook.verified)
	}
}

// TestMediaCheckPushUpdatesRecord: media_check_async keeps the trace_id and
// the later wxa_media_check push fills in the verdict.
func TestMediaCheckPushUpdatesRecord(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("sam")
	var c struct {
		TraceID string `json:"trace_id"`
		Status  string `json:"status"`
	}
	a := "/admin/v1/" + config.DemoAppID + "/security/media-check"
	if st, _ := e.do("POST", a, adminKey, map[string]any{"media_url": "https://example.com/risky.png", "media_type": 2, "openid": l.User.OpenID, "scene": 1}, &c); st != 202 || c.TraceID == "" {
		t.Fatalf("media-check: %d %+v", st, c)
	}
	for range 300 {
		e.do("GET", a+"/"+c.TraceID, adminKey, nil, &c)
		if c.Status != "pending" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.Status != "risky" {
		t.Fatalf("verdict = %q, want risky", c.Status)
	}
}

func sortedSHA1(parts ...string) string {
	return sha1Sorted(parts)
}
