package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/sandbox"
)

const adminKey = "test-admin-key-0123456789"

func withAdmin(c *config.Config) { c.Admin.APIKeys = []string{adminKey} }

type messageAnswer struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	WeChatErrCode int    `json:"wechat_errcode"`
	Error         string `json:"error"`
	SentAt        string `json:"sent_at"`
}

// waitMessage polls GET …/messages/{id} until the message is final.
func (e *testEnv) waitMessage(id string) messageAnswer {
	e.t.Helper()
	var m messageAnswer
	for range 300 {
		e.do("GET", "/admin/v1/"+config.DemoAppID+"/messages/"+id, adminKey, nil, &m)
		if m.Status == "sent" || m.Status == "failed" {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("message %s still %s", id, m.Status)
	return m
}

func subscribeBody(openid string) map[string]any {
	return map[string]any{"openid": openid, "template_id": sandbox.DefaultTemplateID, "page": "pages/index/index?a=1&b=2",
		"data": map[string]any{"thing1": map[string]string{"value": "Order shipped"}, "number2": map[string]string{"value": "42"},
			"date3": map[string]string{"value": "2026年11月21日"}, "phrase4": map[string]string{"value": "已发货"}}}
}

func TestSubscribeRetriedThenSentOnce(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("lena")
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": "/cgi-bin/message/subscribe/send", "errcode": -1, "count": 2}, nil)
	var m messageAnswer
	if st, _ := e.do("POST", "/admin/v1/"+config.DemoAppID+"/messages/subscribe", adminKey, subscribeBody(l.User.OpenID), &m); st != 202 || m.Status != "queued" || m.ID == "" {
		t.Fatalf("send: %d %+v", st, m)
	}
	m = e.waitMessage(m.ID)
	if m.Status != "sent" || m.Attempts != 3 || m.SentAt == "" {
		t.Fatalf("message = %+v, want sent after 3 attempts", m)
	}
	var sent struct{ Messages []struct{ Kind string } }
	e.do("GET", "/sandbox/sent?appid="+config.DemoAppID+"&openid="+l.User.OpenID, "", nil, &sent)
	if len(sent.Messages) != 1 {
		t.Fatalf("WeChat received %d messages, want 1", len(sent.Messages))
	}
}

func TestSubscribeRefusedFailsAtOnce(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("mona")
	e.do("POST", "/sandbox/subscriptions", "", map[string]any{"appid": config.DemoAppID, "openid": l.User.OpenID, "template_id": sandbox.DefaultTemplateID, "status": "reject"}, nil)
	var m messageAnswer
	e.do("POST", "/admin/v1/"+config.DemoAppID+"/messages/subscribe", adminKey, map[string]any{"user_id": l.User.ID,
		"template_id": sandbox.DefaultTemplateID, "data": subscribeBody("")["data"]}, &m)
	m = e.waitMessage(m.ID)
	if m.Status != "failed" || m.Attempts != 1 || m.WeChatErrCode != 43101 {
		t.Fatalf("message = %+v, want failed at once with 43101", m)
	}
}

func TestCustomerMessage(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("nina")
	var m messageAnswer
	e.do("POST", "/admin/v1/"+config.DemoAppID+"/messages/customer", adminKey, map[string]any{"openid": l.User.OpenID, "msgtype": "text", "text": map[string]string{"content": "hi <b>&</b>"}}, &m)
	if m = e.waitMessage(m.ID); m.Status != "sent" || m.Kind != "customer" {
		t.Fatalf("message = %+v", m)
	}
}

func TestAdminBadInput(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("olga")
	a := "/admin/v1/" + config.DemoAppID
	tests := []struct {
		name, method, path, key string
		body                    any
		status                  int
		code                    string
	}{
		{"no key", "GET", a + "/users", "", nil, 401, "unauthorized"},
		{"wrong key", "GET", a + "/users", "wrong-key-wrong-key", nil, 401, "unauthorized"},
		{"unknown app", "GET", "/admin/v1/wxnope/users", adminKey, nil, 404, "app_not_found"},
		{"unknown message", "GET", a + "/messages/nope", adminKey, nil, 404, "not_found"},
		{"unknown user", "GET", a + "/users/999999", adminKey, nil, 404, "not_found"},
		{"bad limit", "GET", a + "/users?limit=1000", adminKey, nil, 400, "invalid_request"},
		{"bad cursor", "GET", a + "/inbox?cursor=x", adminKey, nil, 400, "invalid_request"},
		{"subscribe no recipient", "POST", a + "/messages/subscribe", adminKey, map[string]any{"template_id": "t", "data": map[string]any{"thing1": map[string]string{"value": "x"}}}, 400, "invalid_request"},
		{"subscribe both recipients", "POST", a + "/messages/subscribe", adminKey, map[string]any{"user_id": l.User.ID, "openid": "o", "template_id": "t", "data": map[string]any{"thing1": map[string]string{"value": "x"}}}, 400, "invalid_request"},
		{"subscribe unknown user", "POST", a + "/messages/subscribe", adminKey, map[string]any{"user_id": 424242, "template_id": "t", "data": map[string]any{"thing1": map[string]string{"value": "x"}}}, 404, "not_found"},
		{"subscribe data not object", "POST", a + "/messages/subscribe", adminKey, map[string]any{"openid": "o", "template_id": "t", "data": map[string]any{"thing1": "x"}}, 400, "invalid_request"},
		{"subscribe data no value", "POST", a + "/messages/subscribe", adminKey, map[string]any{"openid": "o", "template_id": "t", "data": map[string]any{"thing1": map[string]int{"value": 3}}}, 400, "invalid_request"},
		{"subscribe bad keyword", "POST", a + "/messages/subscribe", adminKey, map[string]any{"openid": "o", "template_id": "t", "data": map[string]any{"Thing": map[string]string{"value": "x"}}}, 400, "invalid_request"},
		{"subscribe bad state", "POST", a + "/messages/subscribe", adminKey, map[string]any{"openid": "o", "template_id": "t", "miniprogram_state": "prod", "data": map[string]any{"thing1": map[string]string{"value": "x"}}}, 400, "invalid_request"},
		{"customer bad type", "POST", a + "/messages/customer", adminKey, map[string]any{"openid": "o", "msgtype": "video", "text": map[string]string{"content": "x"}}, 400, "invalid_request"},
		{"customer mismatched", "POST", a + "/messages/customer", adminKey, map[string]any{"openid": "o", "msgtype": "image", "text": map[string]string{"content": "x"}}, 400, "invalid_request"},
		{"customer empty text", "POST", a + "/messages/customer", adminKey, map[string]any{"openid": "o", "msgtype": "text", "text": map[string]string{"content": ""}}, 400, "invalid_request"},
		{"msg-check bad scene", "POST", a + "/security/msg-check", adminKey, map[string]any{"openid": "o", "content": "x", "scene": 9}, 400, "invalid_request"},
		{"urllink not object", "POST", a + "/urllink", adminKey, "[1]", 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out errorAnswer
			st, _ := e.do(tt.method, tt.path, tt.key, tt.body, &out)
			if st != tt.status || out.Error.Code != tt.code {
				t.Fatalf("%d %+v, want %d %s", st, out, tt.status, tt.code)
			}
		})
	}
	// Nothing was queued by the bad sends.
	var sent struct{ Messages []any }
	e.do("GET", "/sandbox/sent?appid="+config.DemoAppID+"&openid=o", "", nil, &sent)
	if len(sent.Messages) != 0 {
		t.Fatalf("bad input reached WeChat: %+v", sent)
	}
}

func TestAdminDisabledWithoutKeys(t *testing.T) {
	e := startMain(t, nil)
	var out errorAnswer
	if st, _ := e.do("GET", "/admin/v1/"+config.DemoAppID+"/users", "anything-anything", nil, &out); st != 403 || out.Error.Code != "forbidden" {
		t.Fatalf("%d %+v", st, out)
	}
}

func TestAdminUsersPaging(t *testing.T) {
	e := startMain(t, withAdmin)
	for i := range 5 {
		e.login(fmt.Sprintf("pager%d", i))
	}
	seen := map[int64]bool{}
	cursor := ""
	for range 10 {
		var page struct {
			Users []struct {
				ID int64 `json:"id"`
			} `json:"users"`
			NextCursor string `json:"next_cursor"`
		}
		if st, _ := e.do("GET", "/admin/v1/"+config.DemoAppID+"/users?limit=2&cursor="+cursor, adminKey, nil, &page); st != 200 {
			t.Fatalf("users: %d", st)
		}
		for _, u := range page.Users {
			if seen[u.ID] {
				t.Fatalf("user %d twice", u.ID)
			}
			seen[u.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("saw %d users, want 5", len(seen))
	}
}

func TestLinksAndMsgCheck(t *testing.T) {
	e := startMain(t, withAdmin)
	l := e.login("pia")
	a := "/admin/v1/" + config.DemoAppID
	var link map[string]string
	if st, _ := e.do("POST", a+"/urllink", adminKey, map[string]any{"path": "pages/index/index", "query": "a=1&b=2", "expire_type": 1, "expire_interval": 30}, &link); st != 200 || !strings.HasPrefix(link["url"], "https://") {
		t.Fatalf("urllink: %d %v", st, link)
	}
	if st, _ := e.do("POST", a+"/urlscheme", adminKey, map[string]any{"jump_wxa": map[string]string{"path": "pages/index/index"}, "expire_type": 1, "expire_interval": 1}, &link); st != 200 || !strings.HasPrefix(link["openlink"], "weixin://") {
		t.Fatalf("urlscheme: %d %v", st, link)
	}
	if st, _ := e.do("POST", a+"/shortlink", adminKey, map[string]any{"page_url": "pages/index/index?a=1", "page_title": "Home"}, &link); st != 200 || link["link"] == "" {
		t.Fatalf("shortlink: %d %v", st, link)
	}
	var verdict struct {
		Suggest string `json:"suggest"`
		Label   int    `json:"label"`
	}
	if st, _ := e.do("POST", a+"/security/msg-check", adminKey, map[string]any{"openid": l.User.OpenID, "content": "this is risky", "scene": 2}, &verdict); st != 200 || verdict.Suggest != "risky" {
		t.Fatalf("msg-check: %d %+v", st, verdict)
	}
	if st, _ := e.do("POST", a+"/security/msg-check", adminKey, map[string]any{"openid": l.User.OpenID, "content": "hello", "scene": 2}, &verdict); st != 200 || verdict.Suggest != "pass" || verdict.Label != 100 {
		t.Fatalf("msg-check: %d %+v", st, verdict)
	}
}

func TestWxaCodeFetchedOnce(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("quinn")
	for range 3 {
		req, _ := http.NewRequest("POST", e.base+"/api/v1/"+config.DemoAppID+"/wxacode", strings.NewReader(`{"scene":"id=42","page":"pages/index/index"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			t.Fatalf("wxacode: %d %s", resp.StatusCode, raw)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
	}
	if got := e.m.Sandbox.Calls("/wxa/getwxacodeunlimit"); got != 1 {
		t.Fatalf("WeChat asked %d times, want 1", got)
	}
	var out errorAnswer
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/wxacode", l.AccessToken, map[string]any{"scene": strings.Repeat("x", 33)}, &out); st != 400 {
		t.Fatalf("long scene: %d %+v", st, out)
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/wxacode", l.AccessToken, map[string]any{"scene": "a", "page": "pages/missing"}, &out); st != 422 || out.Error.WeChatErrCode != 41030 {
		t.Fatalf("unpublished page: %d %+v", st, out)
	}
}

// upload posts a multipart media field.
func upload(t *testing.T, e *testEnv, token, field string, data []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, "x.png")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", e.base+"/api/v1/"+config.DemoAppID+"/media", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func TestMediaUploadAndDownload(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("rita")
	pngBytes := tinyPNG(t)
	st, raw := upload(t, e, l.AccessToken, "media", pngBytes)
	if st != 200 || !bytes.Contains(raw, []byte(`"media_id"`)) || !bytes.Contains(raw, []byte(`"type":"image"`)) {
		t.Fatalf("upload: %d %s", st, raw)
	}
	id := strings.SplitN(strings.SplitN(string(raw), `"media_id":"`, 2)[1], `"`, 2)[0]
	req, _ := http.NewRequest("GET", e.base+"/api/v1/"+config.DemoAppID+"/media/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+l.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, pngBytes) {
		t.Fatalf("download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	uploads := e.m.Sandbox.Calls("/cgi-bin/media/upload")
	for _, tc := range []struct {
		name   string
		field  string
		data   []byte
		status int
	}{
		{"not an image", "media", []byte("hello, not an image at all"), 415},
		{"too large", "media", append(append([]byte{}, pngBytes...), make([]byte, 3<<20)...), 413},
		{"wrong field", "file", pngBytes, 400},
	} {
		if st, raw := upload(t, e, l.AccessToken, tc.field, tc.data); st != tc.status {
			t.Errorf("%s: %d %s", tc.name, st, raw)
		}
	}
	if e.m.Sandbox.Calls("/cgi-bin/media/upload") != uploads {
		t.Fatal("a refused upload reached WeChat")
	}
	var out errorAnswer
	for _, bad := range []string{"..%2F..%2Fetc%2Fpasswd", "a.b", "x%00y"} {
		if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/media/"+bad, l.AccessToken, nil, &out); st != 400 && st != 404 {
			t.Errorf("id %q: %d", bad, st)
		}
	}
	gets := e.m.Sandbox.Calls("/cgi-bin/media/get")
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/media/unknownmedia", l.AccessToken, nil, &out); st != 404 || out.Error.Code != "not_found" {
		t.Fatalf("unknown media: %d %+v", st, out)
	}
	// Media is bound to its uploader: another user of the app gets the
	// same 404 as for an unknown id, and WeChat is not asked (issue #6 item 7).
	other := e.login("sam")
	if st, _ := e.do("GET", "/api/v1/"+config.DemoAppID+"/media/"+id, other.AccessToken, nil, &out); st != 404 || out.Error.Code != "not_found" {
		t.Fatalf("another user's media: %d %+v", st, out)
	}
	if got := e.m.Sandbox.Calls("/cgi-bin/media/get"); got != gets {
		t.Fatalf("WeChat was asked %d times for media the caller may not read", got-gets)
	}
}
