package inbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/inbox"
	"github.com/miniback/miniback/push"
	"github.com/miniback/miniback/wxcrypto"
)

// TestPortalModes delivers one message in every mode × format three times
// (WeChat's retries): one inbox row, one publish, "success" each time.
func TestPortalModes(t *testing.T) {
	for _, format := range []string{push.FormatJSON, push.FormatXML} {
		for _, mode := range []string{"plain", "compat", "safe"} {
			t.Run(mode+"/"+format, func(t *testing.T) {
				env := newPortalEnv(t)
				appid := "wxenc" + strings.ToLower(format)
				if mode == "plain" {
					appid = "wxplain" + strings.ToLower(format)
				}
				inner := readSample(t, "text."+strings.ToLower(format))
				for i := range 3 {
					status, body := env.send(t, buildPush(t, appid, mode, format, inner, testNow.Unix()+int64(i)))
					if status != http.StatusOK || body != "success" {
						t.Fatalf("delivery %d: %d %q", i, status, body)
					}
				}
				rows := env.rows(t, appid)
				if len(rows) != 1 {
					t.Fatalf("%d inbox rows, want 1", len(rows))
				}
				r := rows[0]
				if r.DedupKey != "msg:1234567890123456" || r.MsgType != "text" || r.FromUser != "fromUser" ||
					r.CreateTime != 1482048670 || r.Status != miniback.InboxReceived {
					t.Errorf("row = %+v", r)
				}
				var fields map[string]any
				if err := json.Unmarshal(r.Message, &fields); err != nil || fields["Content"] != "this is a test" || fields["Encrypt"] != nil {
					t.Errorf("stored message %s (%v)", r.Message, err)
				}
				id := strconv.FormatInt(r.ID, 10)
				want := []published{{"miniback.inbox." + appid, id, "inbox-" + id}}
				// The row stays received until a Dispatcher finishes it, so
				// each retry republishes under the same msgID: the queue
				// dedupes them.
				pubs := env.queue.all()
				if len(pubs) == 0 {
					t.Fatal("nothing published")
				}
				for _, p := range pubs {
					if p != want[0] {
						t.Errorf("published %+v, want %+v", p, want[0])
					}
				}
			})
		}
	}
}

// TestPortalPushMode: a push in a weaker mode than the app's push_mode is
// 403 and leaves nothing behind; the configured mode and stronger ones
// pass (issue #6 item 2: a forged plaintext push defeated safe mode).
func TestPortalPushMode(t *testing.T) {
	tests := []struct {
		appMode string
		want    map[string]int
	}{
		{miniback.PushModeSafe, map[string]int{"plain": 403, "compat": 403, "safe": 200}},
		{miniback.PushModeCompat, map[string]int{"plain": 403, "compat": 200, "safe": 200}},
		{miniback.PushModePlain, map[string]int{"plain": 200, "compat": 200, "safe": 200}},
	}
	for _, tt := range tests {
		for _, format := range []string{push.FormatJSON, push.FormatXML} {
			for i, mode := range []string{"plain", "compat", "safe"} {
				t.Run(tt.appMode+"/"+format+"/"+mode, func(t *testing.T) {
					env := newPortalEnv(t)
					appid := "wxenc" + strings.ToLower(format)
					env.portal.Apps[appid].PushMode = tt.appMode
					inner := fmt.Appendf(nil, `{"ToUserName":"gh","FromUserName":"oUser","CreateTime":%d,"MsgType":"event","Event":"wxa_media_check","trace_id":"t%d","result":{"suggest":"pass","label":100}}`, testNow.Unix(), i)
					if format == push.FormatXML {
						inner = fmt.Appendf(nil, `<xml><ToUserName>gh</ToUserName><FromUserName>oUser</FromUserName><CreateTime>%d</CreateTime><MsgType>event</MsgType><Event>wxa_media_check</Event><trace_id>t%d</trace_id></xml>`, testNow.Unix(), i)
					}
					status, body := env.send(t, buildPush(t, appid, mode, format, inner, testNow.Unix()))
					if status != tt.want[mode] {
						t.Fatalf("status %d %q, want %d", status, body, tt.want[mode])
					}
					if rows, pubs := len(env.rows(t, appid)), len(env.queue.all()); status == 403 && (rows != 0 || pubs != 0) {
						t.Fatalf("a refused push left %d rows and %d publishes", rows, pubs)
					}
				})
			}
		}
	}
}

// TestPortalInvalidUTF8: a signed push whose text is not UTF-8 is 400 and
// stored nowhere, in every mode, so the inbox and webhook bodies stay
// valid UTF-8 JSON (issue #6 item 3).
func TestPortalInvalidUTF8(t *testing.T) {
	for _, format := range []string{push.FormatJSON, push.FormatXML} {
		for _, mode := range []string{"plain", "safe"} {
			t.Run(format+"/"+mode, func(t *testing.T) {
				env := newPortalEnv(t)
				appid := "wxenc" + strings.ToLower(format)
				if mode == "plain" {
					appid = "wxplain" + strings.ToLower(format)
				}
				inner := fmt.Appendf(nil, "{\"FromUserName\":\"oUser\",\"CreateTime\":%d,\"MsgType\":\"text\",\"Content\":\"bad \xff\xfe\",\"MsgId\":77}", testNow.Unix())
				if format == push.FormatXML {
					inner = fmt.Appendf(nil, "<xml><FromUserName>oUser</FromUserName><CreateTime>%d</CreateTime><MsgType>text</MsgType><Content>bad \xff\xfe</Content><MsgId>77</MsgId></xml>", testNow.Unix())
				}
				status, body := env.send(t, buildPush(t, appid, mode, format, inner, testNow.Unix()))
				if status != 400 {
					t.Fatalf("status %d %q, want 400", status, body)
				}
				if rows := env.rows(t, appid); len(rows) != 0 {
					t.Fatalf("stored %d rows", len(rows))
				}
			})
		}
	}
}

// TestPortalDuplicateHandled: a retry of a message already handled is
// answered success and not published again.
func TestPortalDuplicateHandled(t *testing.T) {
	env := newPortalEnv(t)
	p := buildPush(t, "wxencjson", "safe", push.FormatJSON, readSample(t, "text.json"), testNow.Unix())
	if status, _ := env.send(t, p); status != http.StatusOK {
		t.Fatalf("first delivery: %d", status)
	}
	rows := env.rows(t, "wxencjson")
	if err := env.inbox.FinishInbox(context.Background(), rows[0].ID, miniback.InboxHandled, "", testNow); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if status, body := env.send(t, p); status != http.StatusOK || body != "success" {
			t.Fatalf("retry: %d %q", status, body)
		}
	}
	if n := len(env.queue.all()); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
}

// TestPortalOfficialVector replays the official safe-mode JSON push of
// protocol §d.4 (vectors.json msgcrypt_official_miniprogram_json_push).
func TestPortalOfficialVector(t *testing.T) {
	env := newPortalEnv(t)
	env.portal.Apps["wxba5fad812f8e6fb9"] = &miniback.App{AppID: "wxba5fad812f8e6fb9", Token: "AAAAA", AESKey: strings.Repeat("A", 43), MsgFormat: "JSON"}
	env.portal.Now = func() time.Time { return time.Unix(1714112445, 0) }
	body := `{"ToUserName":"gh_97417a04a28d","Encrypt":"+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="}`
	q := map[string][]string{
		"signature": {"6c5c811b55cc85e0e1b54100749188c20beb3f5d"}, "timestamp": {"1714112445"}, "nonce": {"415670741"},
		"openid": {"o9AgO5Kd5ggOC-bXrbNODIiE3bGY"}, "encrypt_type": {"aes"}, "msg_signature": {"046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"},
	}
	if status, body := env.send(t, pushReq{appid: "wxba5fad812f8e6fb9", query: q, body: []byte(body)}); status != http.StatusOK || body != "success" {
		t.Fatalf("%d %q", status, body)
	}
	rows := env.rows(t, "wxba5fad812f8e6fb9")
	if len(rows) != 1 || rows[0].Event != "debug_demo" || rows[0].DedupKey != "event:o9AgO5Kd5ggOC-bXrbNODIiE3bGY:1714112445:debug_demo" {
		t.Fatalf("rows = %+v", rows)
	}
}

// TestPortalRejects checks every refusal: the status, and that nothing is
// stored or published.
func TestPortalRejects(t *testing.T) {
	jsonText := readSample(t, "text.json")
	xmlText := readSample(t, "text.xml")
	now := testNow.Unix()
	tests := []struct {
		name   string
		build  func(t *testing.T) pushReq
		status int
	}{
		{"wrong signature", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			p.query.Set("signature", strings.Repeat("0", 40))
			return p
		}, 403},
		{"missing signature", func(t *testing.T) pushReq {
			p := buildPush(t, "wxplainjson", "plain", "JSON", jsonText, now)
			p.query.Del("signature")
			return p
		}, 403},
		{"wrong msg_signature", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			p.query.Set("msg_signature", wxcrypto.MsgSignature(testToken, p.query.Get("timestamp"), p.query.Get("nonce"), "other"))
			return p
		}, 403},
		{"msg_signature missing", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencxml", "safe", "XML", xmlText, now)
			p.query.Del("msg_signature")
			return p
		}, 403},
		{"tampered ciphertext", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			var env map[string]string
			json.Unmarshal(p.body, &env)
			enc := []byte(env["Encrypt"])
			enc[10] ^= 1
			if enc[10] == '+' || enc[10] == '/' {
				enc[10] = 'A'
			}
			env["Encrypt"] = string(enc)
			p.body, _ = json.Marshal(env)
			return p
		}, 403},
		{"tampered ciphertext re-signed", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			enc := "AAAA" + strings.Repeat("B", 40)
			p.query.Set("msg_signature", wxcrypto.MsgSignature(testToken, p.query.Get("timestamp"), p.query.Get("nonce"), enc))
			p.body = envelope(t, "JSON", false, nil, enc)
			return p
		}, 400},
		{"another appid inside", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			other, _ := wxcrypto.NewMsgCrypt(testToken, testAESKey, "wxother")
			enc, _ := other.Encrypt(jsonText)
			p.query.Set("msg_signature", wxcrypto.MsgSignature(testToken, p.query.Get("timestamp"), p.query.Get("nonce"), enc))
			p.body = envelope(t, "JSON", false, nil, enc)
			return p
		}, 400},
		{"stale timestamp", func(t *testing.T) pushReq { return buildPush(t, "wxplainjson", "plain", "JSON", jsonText, now-301) }, 403},
		{"future timestamp", func(t *testing.T) pushReq { return buildPush(t, "wxencxml", "safe", "XML", xmlText, now+301) }, 403},
		{"timestamp not a number", func(t *testing.T) pushReq {
			p := buildPush(t, "wxplainjson", "plain", "JSON", jsonText, now)
			p.query.Set("timestamp", "x")
			return p
		}, 403},
		{"huge timestamp", func(t *testing.T) pushReq {
			return buildPush(t, "wxplainjson", "plain", "JSON", jsonText, 1<<62)
		}, 403},
		{"XML to JSON app", func(t *testing.T) pushReq { return buildPush(t, "wxplainjson", "plain", "JSON", xmlText, now) }, 400},
		{"JSON to XML app", func(t *testing.T) pushReq { return buildPush(t, "wxencxml", "safe", "XML", jsonText, now) }, 400},
		{"JSON envelope to XML app", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencxml", "safe", "XML", xmlText, now)
			p.body = []byte(`{"Encrypt":"x"}`)
			return p
		}, 400},
		{"truncated XML", func(t *testing.T) pushReq {
			return buildPush(t, "wxplainxml", "plain", "XML", xmlText[:len(xmlText)-10], now)
		}, 400},
		{"truncated XML inside ciphertext", func(t *testing.T) pushReq {
			return buildPush(t, "wxencxml", "safe", "XML", xmlText[:len(xmlText)-10], now)
		}, 400},
		{"DOCTYPE", func(t *testing.T) pushReq {
			return buildPush(t, "wxplainxml", "plain", "XML", []byte(`<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><MsgType>&x;</MsgType></xml>`), now)
		}, 400},
		{"undeclared entity inside ciphertext", func(t *testing.T) pushReq {
			return buildPush(t, "wxencxml", "compat", "XML", []byte(`<xml><MsgType>&x;</MsgType></xml>`), now)
		}, 400},
		{"no MsgType", func(t *testing.T) pushReq {
			return buildPush(t, "wxplainjson", "plain", "JSON", []byte(`{"a":1}`), now)
		}, 400},
		{"encrypt_type without Encrypt", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "plain", "JSON", jsonText, now)
			p.query.Set("encrypt_type", "aes")
			return p
		}, 400},
		{"encrypted push to an app without AESKey", func(t *testing.T) pushReq {
			p := buildPush(t, "wxencjson", "safe", "JSON", jsonText, now)
			p.appid = "wxplainjson"
			return p
		}, 400},
		{"oversize body", func(t *testing.T) pushReq {
			big := `{"MsgType":"text","Content":"` + strings.Repeat("x", inbox.DefaultMaxBody) + `"}`
			return buildPush(t, "wxplainjson", "plain", "JSON", []byte(big), now)
		}, 413},
		{"unknown appid", func(t *testing.T) pushReq {
			p := buildPush(t, "wxplainjson", "plain", "JSON", jsonText, now)
			p.appid = "wxnobody"
			return p
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPortalEnv(t)
			p := tt.build(t)
			if status, body := env.send(t, p); status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			for appid := range env.portal.Apps {
				if rows := env.rows(t, appid); len(rows) != 0 {
					t.Errorf("stored %d rows for %s", len(rows), appid)
				}
			}
			if n := len(env.queue.all()); n != 0 {
				t.Errorf("published %d messages", n)
			}
		})
	}
}

// TestPortalCompatIgnoresPlaintextCopy: in compatible mode only the
// authenticated ciphertext counts, not the plaintext copy beside it.
func TestPortalCompatIgnoresPlaintextCopy(t *testing.T) {
	env := newPortalEnv(t)
	p := buildPush(t, "wxencjson", "compat", "JSON", readSample(t, "text.json"), testNow.Unix())
	var obj map[string]any
	json.Unmarshal(p.body, &obj)
	obj["Content"], obj["MsgId"] = "forged", 1
	p.body, _ = json.Marshal(obj)
	if status, _ := env.send(t, p); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	rows := env.rows(t, "wxencjson")
	if len(rows) != 1 || rows[0].DedupKey != "msg:1234567890123456" || !strings.Contains(string(rows[0].Message), "this is a test") {
		t.Fatalf("rows = %+v", rows)
	}
}

// TestPortalUnavailable: when the inbox or the queue fails the answer is
// 503, so WeChat retries, and a retry after recovery publishes.
func TestPortalUnavailable(t *testing.T) {
	env := newPortalEnv(t)
	env.queue.err = errQueueDown
	p := buildPush(t, "wxplainjson", "plain", "JSON", readSample(t, "text.json"), testNow.Unix())
	if status, _ := env.send(t, p); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", status)
	}
	env.queue.mu.Lock()
	env.queue.err = nil
	env.queue.mu.Unlock()
	if status, _ := env.send(t, p); status != http.StatusOK {
		t.Fatalf("retry status %d", status)
	}
	if n, rows := len(env.queue.all()), env.rows(t, "wxplainjson"); n != 1 || len(rows) != 1 {
		t.Errorf("%d publishes, %d rows; want 1, 1", n, len(rows))
	}
}

func TestPortalVerify(t *testing.T) {
	now := strconv.FormatInt(testNow.Unix(), 10)
	stale := strconv.FormatInt(testNow.Add(-6*time.Minute).Unix(), 10)
	tests := []struct {
		name, appid, signature, timestamp string
		status                            int
		body                              string
	}{
		{"good", "wxencjson", wxcrypto.Signature(testToken, now, "1514711492"), now, 200, "4375120948345356249"},
		{"bad signature", "wxencjson", strings.Repeat("f", 40), now, 403, "forbidden"},
		{"missing signature", "wxencjson", "", now, 403, "forbidden"},
		{"unknown app", "wxnobody", wxcrypto.Signature(testToken, now, "1514711492"), now, 404, "app_not_found"},
		// push.max_age holds for the verification too (issue #6 item 2).
		{"stale timestamp", "wxencjson", wxcrypto.Signature(testToken, stale, "1514711492"), stale, 403, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newPortalEnv(t)
			u := env.server.URL + "/wx/portal/" + tt.appid + "?signature=" + tt.signature + "&timestamp=" + tt.timestamp + "&nonce=1514711492&echostr=4375120948345356249"
			resp, err := env.server.Client().Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 100)
			n, _ := resp.Body.Read(buf)
			if resp.StatusCode != tt.status || strings.TrimSpace(string(buf[:n])) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, buf[:n], tt.status, tt.body)
			}
			if tt.status == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
		})
	}
}

// TestPortalVerifyOfficial checks the documented verification example.
func TestPortalVerifyOfficial(t *testing.T) {
	p := &inbox.Portal{Apps: miniback.Apps{"wxa": {AppID: "wxa", Token: "AAAAA", MsgFormat: "XML"}},
		Now: func() time.Time { return time.Unix(1714036504, 0) }}
	mux := http.NewServeMux()
	mux.Handle("GET /wx/portal/{appid}", adapt(p.ServeVerify))
	req := newRequest(t, "GET", "/wx/portal/wxa?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&echostr=4375120948345356249&timestamp=1714036504&nonce=1514711492")
	rec := recordRequest(mux, req)
	if rec.Code != 200 || rec.Body.String() != "4375120948345356249" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}

func TestPortalVerifyNosniff(t *testing.T) {
	env := newPortalEnv(t)
	ts := strconv.FormatInt(testNow.Unix(), 10)
	u := env.server.URL + "/wx/portal/wxencjson?signature=" + wxcrypto.Signature(testToken, ts, "2") + "&timestamp=" + ts + "&nonce=2&echostr=%3Cscript%3E"
	resp, err := env.server.Client().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("%d %v", resp.StatusCode, resp.Header)
	}
}
