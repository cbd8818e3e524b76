package wechat

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestSendCustomMessage(t *testing.T) {
	tests := []struct {
		name string
		msg  any
		want string
	}{
		{"text", NewTextMessage("oUSER", "Hello & <welcome>"),
			`{"touser":"oUSER","msgtype":"text","text":{"content":"Hello & <welcome>"}}`},
		{"image", NewImageMessage("oUSER", "MEDIA_ID"),
			`{"touser":"oUSER","msgtype":"image","image":{"media_id":"MEDIA_ID"}}`},
		{"link", NewLinkMessage("oUSER", LinkContent{Title: "T", Description: "D", URL: "https://e.com/?a=1&b=2", ThumbURL: "https://e.com/t.png"}),
			`{"touser":"oUSER","msgtype":"link","link":{"title":"T","description":"D","url":"https://e.com/?a=1&b=2","thumb_url":"https://e.com/t.png"}}`},
		{"miniprogrampage", NewMiniProgramPageMessage("oUSER", MiniProgramPageContent{Title: "T", PagePath: "pages/index/index?foo=bar&x=1", ThumbMediaID: "MEDIA_ID"}),
			`{"touser":"oUSER","msgtype":"miniprogrampage","miniprogrampage":{"title":"T","pagepath":"pages/index/index?foo=bar&x=1","thumb_media_id":"MEDIA_ID"}}`},
		{"raw passthrough", json.RawMessage(` {"touser":"oUSER","msgtype":"text","text":{"content":"a&b"}} `),
			`{"touser":"oUSER","msgtype":"text","text":{"content":"a&b"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.route("/cgi-bin/message/custom/send", okRoute(nil))
			if err := f.client().SendCustomMessage(t.Context(), tt.msg); err != nil {
				t.Fatal(err)
			}
			call := f.recorded("/cgi-bin/message/custom/send")[0]
			if call.Method != http.MethodPost || call.Query.Get("access_token") == "" || string(call.Body) != tt.want {
				t.Fatalf("%s ?%v body\n%s\nwant\n%s", call.Method, call.Query, call.Body, tt.want)
			}
		})
	}
}

func TestSendCustomMessageErrors(t *testing.T) {
	f := newFake(t)
	f.route("/cgi-bin/message/custom/send", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errBody(45015, "response out of time limit or subscription is canceled"))
	})
	c := f.client()
	err := c.SendCustomMessage(t.Context(), NewTextMessage("o", "hi"))
	var we *Error
	if !errors.As(err, &we) || we.Code != 45015 {
		t.Fatalf("err = %v, want *Error 45015", err)
	}
	if err := c.SendCustomMessage(t.Context(), json.RawMessage(`not json`)); err == nil {
		t.Fatal("invalid raw JSON was sent")
	}
}

func TestSendSubscribeMessage(t *testing.T) {
	f := newFake(t)
	f.route("/cgi-bin/message/subscribe/send", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok","msgid":3248682510344192008}`))
	})
	c := f.client()
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok) // the token retry applies here too
	id, err := c.SendSubscribeMessage(t.Context(), &SubscribeMessage{ToUser: "oUSER", TemplateID: "TPL",
		Page: "index?foo=bar&x=1", MiniprogramState: "developer", Lang: "zh_CN",
		Data: map[string]SubscribeValue{"thing1": {Value: "<b>&"}}})
	if err != nil || id != "3248682510344192008" {
		t.Fatalf("msgid = %q, %v; want 3248682510344192008", id, err)
	}
	calls := f.recorded("/cgi-bin/message/subscribe/send")
	want := `{"touser":"oUSER","template_id":"TPL","page":"index?foo=bar&x=1","miniprogram_state":"developer","lang":"zh_CN","data":{"thing1":{"value":"<b>&"}}}`
	if len(calls) != 2 || string(calls[1].Body) != want {
		t.Fatalf("%d calls, body %s", len(calls), calls[len(calls)-1].Body)
	}
}

func TestSendSubscribeMessageRefused(t *testing.T) {
	f := newFake(t)
	f.route("/cgi-bin/message/subscribe/send", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errBody(43101, "user refuse to accept the msg"))
	})
	_, err := f.client().SendSubscribeMessage(t.Context(), &SubscribeMessage{ToUser: "o", TemplateID: "T"})
	var we *Error
	if !errors.As(err, &we) || we.Code != 43101 || IsRetryable(err) {
		t.Fatalf("err = %v, want *Error 43101", err)
	}
}
