package wechat

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestUnlimitedCode(t *testing.T) {
	f := newFake(t)
	f.route("/wxa/getwxacodeunlimit", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch {
		case req["scene"] == "":
			writeJSON(w, errBody(40169, "invalid length for scene"))
		case req["is_hyaline"] == true:
			w.Header().Set("Content-Type", "image/jpeg") // WeChat mislabels transparent PNGs
			_, _ = w.Write(pngBytes)
		default:
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(jpegBytes)
		}
	})
	c := f.client()
	no := false
	img, ct, err := c.UnlimitedCode(t.Context(), &UnlimitedCodeRequest{Scene: "a=1&b=2", Page: "pages/index/index",
		CheckPath: &no, EnvVersion: "trial", Width: 430, LineColor: &Color{R: 1, G: 2, B: 3}})
	if err != nil || ct != "image/jpeg" || !bytes.Equal(img, jpegBytes) {
		t.Fatalf("code = %d bytes %q %v", len(img), ct, err)
	}
	call := f.recorded("/wxa/getwxacodeunlimit")[0]
	want := `{"scene":"a=1&b=2","page":"pages/index/index","check_path":false,"env_version":"trial","width":430,"line_color":{"r":1,"g":2,"b":3}}`
	if call.Method != http.MethodPost || call.Query.Get("access_token") == "" || string(call.Body) != want {
		t.Fatalf("%s body %s\nwant %s", call.Method, call.Body, want)
	}

	_, ct, err = c.UnlimitedCode(t.Context(), &UnlimitedCodeRequest{Scene: "x", IsHyaline: true})
	if err != nil || ct != "image/png" {
		t.Fatalf("hyaline code type = %q %v, want image/png", ct, err)
	}
	_, _, err = c.UnlimitedCode(t.Context(), &UnlimitedCodeRequest{})
	var we *Error
	if !errors.As(err, &we) || we.Code != 40169 {
		t.Fatalf("err = %v, want *Error 40169", err)
	}
}
