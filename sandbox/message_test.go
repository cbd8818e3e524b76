package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// msgEnv is an env with a token for app1 and a logged-in user "oM".
type msgEnv struct {
	*env
	q url.Values
}

func newMsgEnv(t *testing.T, mutate ...func(*Config)) msgEnv {
	e := newEnv(t, mutate...)
	e.session(app1, secret1, "oM")
	return msgEnv{env: e, q: url.Values{"access_token": {e.token(app1, secret1)}}}
}

func TestCustomSend(t *testing.T) {
	e := newMsgEnv(t)
	media := e.upload(app1, tinyPNG(t)).str("media_id")
	cases := []struct {
		name string
		body string
		want int
	}{
		{"text", `{"touser":"oM","msgtype":"text","text":{"content":"Hello <a href=\"x\">World</a>"}}`, 0},
		{"image", `{"touser":"oM","msgtype":"image","image":{"media_id":"` + media + `"}}`, 0},
		{"link", `{"touser":"oM","msgtype":"link","link":{"title":"t","description":"d","url":"https://example.com","thumb_url":"https://example.com/a.png"}}`, 0},
		{"miniprogrampage", `{"touser":"oM","msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"pages/index/index?a=1","thumb_media_id":"` + media + `"}}`, 0},
		{"unknown touser", `{"touser":"oNobody","msgtype":"text","text":{"content":"x"}}`, 40003},
		{"unknown msgtype", `{"touser":"oM","msgtype":"video","video":{}}`, 40008},
		{"text missing", `{"touser":"oM","msgtype":"text"}`, 47001},
		{"text empty", `{"touser":"oM","msgtype":"text","text":{"content":""}}`, 47001},
		{"link without url", `{"touser":"oM","msgtype":"link","link":{"title":"t"}}`, 47001},
		{"bad media", `{"touser":"oM","msgtype":"image","image":{"media_id":"nope"}}`, 40007},
		{"bad thumb", `{"touser":"oM","msgtype":"miniprogrampage","miniprogrampage":{"title":"t","pagepath":"p","thumb_media_id":"nope"}}`, 40007},
		{"wrong type", `{"touser":1}`, 47001},
		{"not JSON", `touser=oM`, 47001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrcode(t, e.do(http.MethodPost, "/cgi-bin/message/custom/send", e.q, "application/json", []byte(c.body)), c.want)
		})
	}
	sent := e.get("/sandbox/sent", url.Values{"appid": {app1}, "openid": {"oM"}})
	var got struct{ Messages []SentMessage }
	if err := json.Unmarshal(sent.Body, &got); err != nil || len(got.Messages) != 4 {
		t.Fatalf("sent: %s (%v)", sent.Body, err)
	}
	if got.Messages[0].Kind != "customer" || !strings.Contains(string(got.Messages[0].Body), `<a href=\"x\">`) {
		t.Fatalf("first message %+v", got.Messages[0])
	}
}

func subscribeBody(data map[string]string, extra map[string]any) map[string]any {
	d := map[string]any{}
	for k, v := range data {
		d[k] = map[string]string{"value": v}
	}
	b := map[string]any{"touser": "oM", "template_id": DefaultTemplateID, "data": d}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func goodData() map[string]string {
	return map[string]string{"thing1": "订单已发货", "number2": "339208499", "date3": "2026年03月01日 10:00", "phrase4": "已完成"}
}

func TestSubscribeSend(t *testing.T) {
	e := newMsgEnv(t)
	r := e.post("/cgi-bin/message/subscribe/send", e.q, subscribeBody(goodData(), map[string]any{"page": "pages/index/index?x=1", "lang": "en_US", "miniprogram_state": "formal"}))
	wantErrcode(t, r, 0)
	id, err := r.M["msgid"].(json.Number).Int64()
	if err != nil || id <= 1<<53 {
		t.Fatalf("msgid %v (%v) must be an int64 above 2^53", r.M["msgid"], err)
	}
	sent := e.s.Sent(app1, "oM")
	if len(sent) != 1 || sent[0].MsgID != id || sent[0].Kind != "subscribe" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestSubscribeSendErrors(t *testing.T) {
	e := newMsgEnv(t)
	with := func(k, v string) map[string]string {
		d := goodData()
		d[k] = v
		return d
	}
	without := goodData()
	delete(without, "phrase4")
	cases := []struct {
		name string
		body map[string]any
		want int
		msg  string
	}{
		{"unknown touser", subscribeBody(goodData(), map[string]any{"touser": "oNobody"}), 40003, ""},
		{"unknown template", subscribeBody(goodData(), map[string]any{"template_id": "nope"}), 40037, ""},
		{"thing too long", subscribeBody(with("thing1", strings.Repeat("长", 21)), nil), 47003, "data.thing1.value"},
		{"number not a number", subscribeBody(with("number2", "12a"), nil), 47003, "data.number2.value"},
		{"date not a date", subscribeBody(with("date3", "tomorrow"), nil), 47003, "data.date3.value"},
		{"phrase too long", subscribeBody(with("phrase4", "六个汉字六个"), nil), 47003, "data.phrase4.value"},
		{"phrase not Chinese", subscribeBody(with("phrase4", "ok"), nil), 47003, "data.phrase4.value"},
		{"missing keyword", subscribeBody(without, nil), 47003, "data.phrase4.value"},
		{"extra keyword", subscribeBody(with("thing9", "x"), nil), 47003, "data.thing9.value"},
		{"non-string value", subscribeBody(goodData(), map[string]any{"data": map[string]any{"thing1": map[string]int{"value": 1}}}), 47003, "data.thing1.value"},
		{"miniprogram_state", subscribeBody(goodData(), map[string]any{"miniprogram_state": "prod"}), 47003, "miniprogram_state"},
		{"lang", subscribeBody(goodData(), map[string]any{"lang": "fr_FR"}), 47003, "lang"},
		{"unknown page", subscribeBody(goodData(), map[string]any{"page": "pages/nope/nope"}), 41030, ""},
		{"unknown page in developer", subscribeBody(goodData(), map[string]any{"page": "pages/nope/nope", "miniprogram_state": "developer"}), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post("/cgi-bin/message/subscribe/send", e.q, c.body)
			wantErrcode(t, r, c.want)
			if !strings.Contains(r.str("errmsg"), c.msg) {
				t.Errorf("errmsg %q does not name %q", r.str("errmsg"), c.msg)
			}
		})
	}
}

func TestSubscribeRefused(t *testing.T) {
	e := newMsgEnv(t)
	sub := func(status string) result {
		return e.post("/sandbox/subscriptions", nil, map[string]string{"appid": app1, "openid": "oM", "template_id": DefaultTemplateID, "status": status})
	}
	if r := sub("reject"); r.Status != http.StatusOK {
		t.Fatalf("subscriptions: %d %s", r.Status, r.Body)
	}
	wantErrcode(t, e.post("/cgi-bin/message/subscribe/send", e.q, subscribeBody(goodData(), nil)), 43101)
	sub("accept")
	wantErrcode(t, e.post("/cgi-bin/message/subscribe/send", e.q, subscribeBody(goodData(), nil)), 0)
	if r := sub("maybe"); r.Status != http.StatusBadRequest {
		t.Fatalf("bad status: %d", r.Status)
	}
	if r := e.post("/sandbox/subscriptions", nil, map[string]string{"appid": app1, "openid": "oM", "template_id": "nope", "status": "accept"}); r.Status != http.StatusNotFound {
		t.Fatalf("unknown template: %d", r.Status)
	}
}

func TestCustomTemplates(t *testing.T) {
	e := newMsgEnv(t, func(c *Config) {
		c.Apps[0].Templates = map[string][]string{"TPL": {"name1", "amount2", "character_string3"}}
	})
	ok := subscribeBody(nil, map[string]any{"template_id": "TPL", "data": map[string]any{
		"name1": map[string]string{"value": "张三"}, "amount2": map[string]string{"value": "¥12.50"}, "character_string3": map[string]string{"value": "A-123"},
	}})
	wantErrcode(t, e.post("/cgi-bin/message/subscribe/send", e.q, ok), 0)
	wantErrcode(t, e.post("/cgi-bin/message/subscribe/send", e.q, subscribeBody(goodData(), nil)), 40037)
}

func TestKeywordValueRules(t *testing.T) {
	cases := []struct {
		keyword, value string
		ok             bool
	}{
		{"thing1", strings.Repeat("a", 20), true},
		{"thing1", strings.Repeat("a", 21), false},
		{"number2", "3.14", true},
		{"number2", strings.Repeat("9", 33), false},
		{"letter3", "abcXYZ", true},
		{"letter3", "abc1", false},
		{"symbol4", "%$", true},
		{"symbol4", "abc", false},
		{"character_string5", "No.123-A", true},
		{"character_string5", "has space", false},
		{"time6", "15:01", true},
		{"time6", "2019年10月1日 15:01", true},
		{"date7", "2019-10-01 ~ 2019-10-03", true},
		{"date7", "soon", false},
		{"amount8", "¥100元", true},
		{"amount8", "100 dollars", false},
		{"phone_number9", "+86 138-0013-8000", true},
		{"phone_number9", "call me", false},
		{"car_number10", "粤A12345", true},
		{"car_number10", "粤A123456789", false},
		{"name11", "Alexander Hamilton", true},
		{"name11", "一二三四五六七八九十一", false},
		{"phrase12", "已完成", true},
		{"phrase12", "", false},
	}
	for _, c := range cases {
		t.Run(c.keyword+"="+c.value, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]string{"value": c.value})
			if got := validKeywordValue(c.keyword, raw); got != c.ok {
				t.Fatalf("validKeywordValue = %v, want %v", got, c.ok)
			}
		})
	}
}
