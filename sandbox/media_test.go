package sandbox

import (
	"bytes"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadAs posts data as the multipart field with the given name and
// filename to /cgi-bin/media/upload.
func (e *env) uploadAs(q url.Values, field, filename string, data []byte) result {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var err error
	if filename == "" {
		err = mw.WriteField(field, string(data))
	} else {
		w, cerr := mw.CreateFormFile(field, filename)
		if cerr != nil {
			e.t.Fatal(cerr)
		}
		_, err = w.Write(data)
	}
	if err != nil || mw.Close() != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodPost, "/cgi-bin/media/upload", q, mw.FormDataContentType(), buf.Bytes())
}

func (e *env) upload(appid string, data []byte) result {
	e.t.Helper()
	secret := map[string]string{app1: secret1, app2: secret2}[appid]
	q := url.Values{"access_token": {e.token(appid, secret)}, "type": {"image"}}
	return e.uploadAs(q, "media", "a.png", data)
}

func TestMediaUploadAndGet(t *testing.T) {
	e := newEnv(t)
	img := tinyPNG(t)
	up := e.upload(app1, img)
	id := up.str("media_id")
	if up.str("type") != "image" || id == "" || up.M["created_at"] == nil {
		t.Fatalf("upload: %s", up.Body)
	}
	q := url.Values{"access_token": {e.token(app1, secret1)}, "media_id": {id}}
	got := e.get("/cgi-bin/media/get", q)
	if !bytes.Equal(got.Body, img) || got.Header.Get("Content-Type") != "image/png" ||
		got.Header.Get("Content-Disposition") != `attachment; filename="`+id+`.png"` {
		t.Fatalf("get: %v %q", got.Header, got.Body)
	}
	other := url.Values{"access_token": {e.token(app2, secret2)}, "media_id": {id}}
	wantErrcode(t, e.get("/cgi-bin/media/get", other), 40007)
	e.clk.Advance(72*time.Hour - time.Second)
	q.Set("access_token", e.token(app1, secret1))
	if r := e.get("/cgi-bin/media/get", q); !bytes.Equal(r.Body, img) {
		t.Fatalf("media must live 3 days: %s", r.Body)
	}
	e.clk.Advance(time.Second)
	r := e.get("/cgi-bin/media/get", q)
	wantErrcode(t, r, 40007)
	if r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("error content type %q", r.Header.Get("Content-Type"))
	}
}

func TestMediaUploadErrors(t *testing.T) {
	e := newEnv(t)
	tok := e.token(app1, secret1)
	img := tinyPNG(t)
	big := append(append([]byte{}, img...), make([]byte, maxImage)...)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 100)...)
	q := func(typ string) url.Values { return url.Values{"access_token": {tok}, "type": {typ}} }
	cases := []struct {
		name, typ, field, filename string
		data                       []byte
		want                       int
	}{
		{"jpeg", "image", "media", "a.jpg", jpeg, 0},
		{"gif", "image", "media", "a.gif", []byte("GIF89a......"), 0},
		{"voice", "voice", "media", "a.png", img, 40004},
		{"not an image", "image", "media", "a.png", []byte("hello"), 40005},
		{"too big", "image", "media", "a.png", big, 40006},
		{"wrong field", "image", "file", "a.png", img, 41005},
		{"no filename", "image", "media", "", img, 41005},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrcode(t, e.uploadAs(q(c.typ), c.field, c.filename, c.data), c.want)
		})
	}
	wantErrcode(t, e.do(http.MethodPost, "/cgi-bin/media/upload", q("image"), "application/json", []byte("{}")), 41005)
	wantErrcode(t, e.get("/cgi-bin/media/upload", q("image")), 43002)
}
