package wechat

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestMsgSecCheck(t *testing.T) {
	tests := []struct {
		name  string
		label any
	}{
		{"number label", 20001},
		{"string label", "20001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.route("/wxa/msg_sec_check", okRoute(map[string]any{
				"result":   map[string]any{"suggest": "risky", "label": tt.label},
				"detail":   []any{map[string]any{"strategy": "content_model", "errcode": 0, "suggest": "risky", "label": tt.label, "prob": 90}, map[string]any{"strategy": "keyword", "errcode": 0, "suggest": "pass", "label": "20006", "keyword": "k"}},
				"trace_id": "60ae120f-371d5872-7941a05b"}))
			res, err := f.client().MsgSecCheck(t.Context(), &MsgSecCheckRequest{OpenID: "oUSER", Scene: SceneComment, Content: "a&b"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Suggest != SuggestRisky || res.Label != 20001 || res.TraceID != "60ae120f-371d5872-7941a05b" ||
				len(res.Detail) != 2 || res.Detail[0].Prob != 90 || res.Detail[1].Label != 20006 || res.Detail[1].Keyword != "k" {
				t.Fatalf("result = %+v", res)
			}
			call := f.recorded("/wxa/msg_sec_check")[0]
			want := `{"version":2,"openid":"oUSER","scene":2,"content":"a&b"}`
			if call.Method != http.MethodPost || string(call.Body) != want {
				t.Fatalf("%s body %s, want %s", call.Method, call.Body, want)
			}
		})
	}
}

func TestMsgSecCheckError(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/msg_sec_check", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errBody(43104, "appid and openid not match"))
	})
	_, err := f.client().MsgSecCheck(t.Context(), &MsgSecCheckRequest{OpenID: "o", Scene: 1, Content: "x"})
	var we *Error
	if !errors.As(err, &we) || we.Code != 43104 {
		t.Fatalf("err = %v, want *Error 43104", err)
	}
}

func TestMediaCheckAsync(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/media_check_async", okRoute(map[string]any{"trace_id": "639c20ec-37b7ee17-0ce59670"}))
	c := f.client()
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok)
	id, err := c.MediaCheckAsync(t.Context(), &MediaCheckRequest{MediaURL: "https://e.com/a.png?x=1&y=2",
		MediaType: MediaTypeImage, Scene: SceneSocial, OpenID: "oUSER"})
	if err != nil || id != "639c20ec-37b7ee17-0ce59670" {
		t.Fatalf("trace_id = %q, %v", id, err)
	}
	calls := f.recorded("/wxa/media_check_async")
	var body map[string]any
	if len(calls) != 2 || json.Unmarshal(calls[1].Body, &body) != nil {
		t.Fatalf("calls = %d", len(calls))
	}
	if body["media_url"] != "https://e.com/a.png?x=1&y=2" || body["media_type"] != 2.0 ||
		body["version"] != 2.0 || body["scene"] != 4.0 || body["openid"] != "oUSER" {
		t.Fatalf("body = %s", calls[1].Body)
	}
}
