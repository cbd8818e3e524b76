package wechat

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestGenerateLinks(t *testing.T) {
	tests := []struct {
		name, path, want, link string
		answer                 map[string]any
		call                   func(*Client) (string, error)
	}{
		{"url link", "/wxa/generate_urllink",
			`{"path":"pages/a/a","query":"a=1&b=2","env_version":"release","expire_type":1,"expire_interval":30}`,
			"https://wxaurl.cn/abc", map[string]any{"url_link": "https://wxaurl.cn/abc"},
			func(c *Client) (string, error) {
				return c.GenerateURLLink(t.Context(), &URLLinkRequest{Path: "pages/a/a", Query: "a=1&b=2",
					EnvVersion: "release", ExpireType: 1, ExpireInterval: 30})
			}},
		{"scheme", "/wxa/generatescheme",
			`{"jump_wxa":{"path":"/pages/index/index","query":"a=1&b=2","env_version":"release"},"expire_type":1,"expire_interval":30}`,
			"weixin://dl/business/?t=XTSkBZlzqmn", map[string]any{"openlink": "weixin://dl/business/?t=XTSkBZlzqmn"},
			func(c *Client) (string, error) {
				return c.GenerateScheme(t.Context(), &SchemeRequest{JumpWxa: &JumpWxa{Path: "/pages/index/index",
					Query: "a=1&b=2", EnvVersion: "release"}, ExpireType: 1, ExpireInterval: 30})
			}},
		{"short link", "/wxa/genwxashortlink",
			`{"page_url":"pages/a/a?x=1&y=2","page_title":"Homework"}`,
			"#小程序://示例/页面/9pZvnVw3KMCQpVp", map[string]any{"link": "#小程序://示例/页面/9pZvnVw3KMCQpVp"},
			func(c *Client) (string, error) {
				return c.GenerateShortLink(t.Context(), &ShortLinkRequest{PageURL: "pages/a/a?x=1&y=2", PageTitle: "Homework"})
			}},
		{"raw passthrough", "/wxa/generate_urllink",
			`{"path":"pages/a/a","query":"a=1&b=2","expire_type":1,"expire_interval":7}`,
			"https://wxaurl.cn/raw", map[string]any{"url_link": "https://wxaurl.cn/raw"},
			func(c *Client) (string, error) {
				return c.GenerateURLLink(t.Context(), json.RawMessage(`{"path":"pages/a/a","query":"a=1&b=2","expire_type":1,"expire_interval":7}`))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.route(tt.path, okRoute(tt.answer))
			got, err := tt.call(f.client())
			if err != nil || got != tt.link {
				t.Fatalf("link = %q, %v; want %q", got, err, tt.link)
			}
			call := f.recorded(tt.path)[0]
			if call.Method != http.MethodPost || call.Query.Get("access_token") == "" || string(call.Body) != tt.want {
				t.Fatalf("%s body %s\nwant %s", call.Method, call.Body, tt.want)
			}
		})
	}
}

func TestGenerateLinkError(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/generatescheme", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, errBody(40212, "invalid query"))
	})
	_, err := f.client().GenerateScheme(t.Context(), &SchemeRequest{})
	var we *Error
	if !errors.As(err, &we) || we.Code != 40212 {
		t.Fatalf("err = %v, want *Error 40212", err)
	}
}
