package sandbox

import (
	"bytes"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWxaCodeUnlimit(t *testing.T) {
	e := newMsgEnv(t)
	body := map[string]any{"scene": "id=42&x=~!", "page": "pages/index/index", "width": 300, "env_version": "trial"}
	r := e.post("/wxa/getwxacodeunlimit", e.q, body)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(r.Body, []byte("\x89PNG")) {
		t.Fatalf("success: %d %v %q", r.Status, r.Header, r.Body[:min(len(r.Body), 40)])
	}
	img, err := png.Decode(bytes.NewReader(r.Body))
	if err != nil || img.Bounds().Dx() != 300 {
		t.Fatalf("png: %v %v", err, img)
	}
	if again := e.post("/wxa/getwxacodeunlimit", e.q, body); !bytes.Equal(again.Body, r.Body) {
		t.Fatal("the code must be deterministic")
	}
	other := e.post("/wxa/getwxacodeunlimit", e.q, map[string]any{"scene": "id=43"})
	if bytes.Equal(other.Body, r.Body) || !bytes.HasPrefix(other.Body, []byte("\x89PNG")) {
		t.Fatal("another scene must give another code; defaults must work")
	}
	hy := e.post("/wxa/getwxacodeunlimit", e.q, map[string]any{"scene": "a", "is_hyaline": true, "line_color": map[string]any{"r": "255", "g": 0, "b": 0}})
	if _, err := png.Decode(bytes.NewReader(hy.Body)); err != nil {
		t.Fatalf("hyaline png: %v", err)
	}
	if got := WxaCodeContent(app1, "pages/index/index", "id=42&x=~!", "trial"); !strings.Contains(got, app1) || !strings.Contains(got, "env_version=trial") {
		t.Fatalf("content %q", got)
	}
}

func TestWxaCodeUnlimitErrors(t *testing.T) {
	e := newMsgEnv(t)
	cases := []struct {
		name string
		body map[string]any
		want int
	}{
		{"no scene", map[string]any{}, 40169},
		{"long scene", map[string]any{"scene": strings.Repeat("a", 33)}, 40169},
		{"percent in scene", map[string]any{"scene": "a%20b"}, 40169},
		{"space in scene", map[string]any{"scene": "a b"}, 40169},
		{"leading slash", map[string]any{"scene": "a", "page": "/pages/index/index"}, 41030},
		{"query in page", map[string]any{"scene": "a", "page": "pages/index/index?a=1"}, 41030},
		{"unknown page", map[string]any{"scene": "a", "page": "pages/nope/nope"}, 41030},
		{"unknown page unchecked", map[string]any{"scene": "a", "page": "pages/nope/nope", "check_path": false}, 0},
		{"narrow", map[string]any{"scene": "a", "width": 279}, 40189},
		{"wide", map[string]any{"scene": "a", "width": 1281}, 40189},
		{"env", map[string]any{"scene": "a", "env_version": "beta"}, 40097},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post("/wxa/getwxacodeunlimit", e.q, c.body)
			if c.want == 0 {
				if !bytes.HasPrefix(r.Body, []byte("\x89PNG")) {
					t.Fatalf("want a PNG, got %s", r.Body)
				}
				return
			}
			wantErrcode(t, r, c.want)
		})
	}
	wantErrcode(t, e.do(http.MethodPost, "/wxa/getwxacodeunlimit", e.q, "text/plain", []byte("scene=a")), 47001)
}

func TestLinks(t *testing.T) {
	e := newMsgEnv(t)
	now := e.clk.Now()
	cases := []struct {
		name, path string
		body       map[string]any
		want       int
		field      string
	}{
		{"urllink", "/wxa/generate_urllink", map[string]any{"path": "pages/index/index", "query": "a=1&b=%20", "expire_type": 1, "expire_interval": 30}, 0, "url_link"},
		{"urllink home", "/wxa/generate_urllink", map[string]any{}, 0, "url_link"},
		{"urllink expire_time", "/wxa/generate_urllink", map[string]any{"expire_type": 0, "expire_time": now.Add(29 * 24 * time.Hour).Unix()}, 0, "url_link"},
		{"urllink too late", "/wxa/generate_urllink", map[string]any{"expire_type": 0, "expire_time": now.Add(31 * 24 * time.Hour).Unix()}, 85401, ""},
		{"urllink past", "/wxa/generate_urllink", map[string]any{"expire_type": 0, "expire_time": now.Add(-time.Hour).Unix()}, 85401, ""},
		{"urllink interval", "/wxa/generate_urllink", map[string]any{"expire_type": 1, "expire_interval": 31}, 85401, ""},
		{"urllink bad query", "/wxa/generate_urllink", map[string]any{"query": "a=<b>"}, 40212, ""},
		{"urllink long query", "/wxa/generate_urllink", map[string]any{"query": strings.Repeat("a", 1025)}, 40212, ""},
		{"urllink bad path", "/wxa/generate_urllink", map[string]any{"path": "pages/nope"}, 40165, ""},
		{"urllink path with query", "/wxa/generate_urllink", map[string]any{"path": "pages/index/index?a=1"}, 40165, ""},
		{"urllink env", "/wxa/generate_urllink", map[string]any{"env_version": "prod"}, 40097, ""},
		{"scheme", "/wxa/generatescheme", map[string]any{"jump_wxa": map[string]any{"path": "/pages/index/index", "query": "", "env_version": "release"}, "expire_type": 1, "expire_interval": 30}, 0, "openlink"},
		{"scheme bad query", "/wxa/generatescheme", map[string]any{"jump_wxa": map[string]any{"path": "pages/index/index", "query": "a b"}}, 40212, ""},
		{"scheme nested as string", "/wxa/generatescheme", map[string]any{"jump_wxa": `{"path":"pages/index/index"}`}, 47001, ""},
		{"scheme interval", "/wxa/generatescheme", map[string]any{"expire_type": 1, "expire_interval": 0}, 85401, ""},
		{"shortlink", "/wxa/genwxashortlink", map[string]any{"page_url": "pages/index/index?q=1", "page_title": strings.Repeat("标", 25)}, 0, "link"},
		{"shortlink no page", "/wxa/genwxashortlink", map[string]any{"page_title": "x"}, 40165, ""},
		{"shortlink bad page", "/wxa/genwxashortlink", map[string]any{"page_url": "pages/nope?q=1"}, 40165, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(c.path, e.q, c.body)
			wantErrcode(t, r, c.want)
			if c.field != "" && r.str(c.field) == "" {
				t.Fatalf("no %s in %s", c.field, r.Body)
			}
		})
	}
	r := e.post("/wxa/genwxashortlink", e.q, map[string]any{"page_url": "pages/index/index", "page_title": strings.Repeat("标", 25)})
	if !strings.HasPrefix(r.str("link"), "#小程序://") || !strings.Contains(r.str("link"), strings.Repeat("标", 20)+"...") {
		t.Fatalf("short link %q", r.str("link"))
	}
	if u := e.post("/wxa/generate_urllink", e.q, map[string]any{}).str("url_link"); !strings.HasPrefix(u, "https://wxaurl.cn/") {
		t.Fatalf("url_link %q", u)
	}
	if u := e.post("/wxa/generatescheme", e.q, map[string]any{}).str("openlink"); !strings.HasPrefix(u, "weixin://dl/business/?t=") {
		t.Fatalf("openlink %q", u)
	}
}
