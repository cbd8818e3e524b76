package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMsgSecCheck(t *testing.T) {
	e := newMsgEnv(t)
	body := func(content string, mut map[string]any) map[string]any {
		b := map[string]any{"version": 2, "openid": "oM", "scene": 2, "content": content}
		for k, v := range mut {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name           string
		body           map[string]any
		want           int
		suggest, label string
	}{
		{"pass", body("hello world!", nil), 0, "pass", "100"},
		{"risky", body("this is RISKY stuff", nil), 0, "risky", "20006"},
		{"risky chinese", body("这是违法内容", nil), 0, "risky", "20006"},
		{"risky nickname", body("hi", map[string]any{"nickname": "risky"}), 0, "risky", "20006"},
		{"version 1", body("x", map[string]any{"version": 1}), 47001, "", ""},
		{"scene 0", body("x", map[string]any{"scene": 0}), 40129, "", ""},
		{"scene 5", body("x", map[string]any{"scene": 5}), 40129, "", ""},
		{"unknown openid", body("x", map[string]any{"openid": "oNobody"}), 40003, "", ""},
		{"empty", body("", nil), 44002, "", ""},
		{"too long", body(strings.Repeat("长", 2501), nil), 45002, "", ""},
		{"max length", body(strings.Repeat("长", 2500), nil), 0, "pass", "100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post("/wxa/msg_sec_check", e.q, c.body)
			wantErrcode(t, r, c.want)
			if c.want != 0 {
				return
			}
			res, _ := r.M["result"].(map[string]any)
			if res["suggest"] != c.suggest || res["label"].(json.Number).String() != c.label || r.str("trace_id") == "" {
				t.Fatalf("result %s", r.Body)
			}
			if d, _ := r.M["detail"].([]any); len(d) == 0 {
				t.Fatalf("no detail: %s", r.Body)
			}
		})
	}
}

func TestRiskyWordsConfigurable(t *testing.T) {
	e := newMsgEnv(t, func(c *Config) { c.RiskyWords = []string{"spam"} })
	r := e.post("/wxa/msg_sec_check", e.q, map[string]any{"version": 2, "openid": "oM", "scene": 1, "content": "risky spam"})
	res, _ := r.M["result"].(map[string]any)
	if res["suggest"] != "risky" {
		t.Fatalf("result %s", r.Body)
	}
	if d := r.M["detail"].([]any); d[1].(map[string]any)["keyword"] != "spam" {
		t.Fatalf("detail %s", r.Body)
	}
}

func TestMediaCheckAsync(t *testing.T) {
	u, ch := backend(t)
	e := newMsgEnv(t, func(c *Config) { c.Apps[0].PushURL = u })
	t.Cleanup(e.s.Close)
	for _, c := range []struct{ url, suggest, label string }{
		{"https://cdn.example.com/a.png", "pass", "100"},
		{"https://cdn.example.com/risky.png", "risky", "20002"},
	} {
		r := e.post("/wxa/media_check_async", e.q, map[string]any{"media_url": c.url, "media_type": 2, "version": 2, "scene": 1, "openid": "oM"})
		wantErrcode(t, r, 0)
		trace := r.str("trace_id")
		got := <-ch
		var envl struct{ ToUserName, Encrypt string }
		if err := json.Unmarshal(got.Body, &envl); err != nil || got.Query.Get("encrypt_type") != "aes" {
			t.Fatalf("push %s %v: %v", got.Body, got.Query, err)
		}
		var ev struct {
			ToUserName, FromUserName, MsgType, Event, Appid string
			TraceID                                         string `json:"trace_id"`
			Version                                         int
			Result                                          struct{ Suggest, Label string }
		}
		if err := json.Unmarshal(decryptMsg(t, testAESKey, app1, envl.Encrypt), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != "wxa_media_check" || ev.TraceID != trace || ev.FromUserName != "oM" || ev.Version != 2 ||
			ev.ToUserName != OriginalID(app1) || ev.Appid != app1 || ev.Result.Suggest != c.suggest || ev.Result.Label != c.label {
			t.Fatalf("event %+v", ev)
		}
	}
	bad := []map[string]any{
		{"media_url": "ftp://x/a.png", "media_type": 2, "version": 2, "scene": 1, "openid": "oM"},
		{"media_url": "https://x/a.png", "media_type": 3, "version": 2, "scene": 1, "openid": "oM"},
		{"media_url": "https://x/a.png", "media_type": 2, "version": 2, "scene": 1, "openid": "oNobody"},
	}
	for i, want := range []int{47001, 47001, 40003} {
		wantErrcode(t, e.post("/wxa/media_check_async", e.q, bad[i]), want)
	}
}
