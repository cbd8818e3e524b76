package wechat

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

var (
	pngBytes  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR-fake-png")
	jpegBytes = []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF-fake-jpeg")
)

func TestUploadMedia(t *testing.T) {
	f := newFake(t)
	var gotName, gotType, gotField string
	var gotData []byte
	f.route("/cgi-bin/media/upload", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			writeJSON(w, errBody(41005, "media data missing"))
			return
		}
		p, err := mr.NextPart()
		if err != nil {
			writeJSON(w, errBody(41005, "media data missing"))
			return
		}
		gotField, gotName, gotType = p.FormName(), p.FileName(), p.Header.Get("Content-Type")
		gotData, _ = io.ReadAll(p)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(`{"type":"image","media_id":"MEDIA_ID_1","created_at":1732154400}`))
	})
	c := f.client()
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok) // the body must be sent again on the retry
	m, err := c.UploadMedia(t.Context(), "image", "card.jpg", "image/jpeg", bytes.NewReader(jpegBytes))
	if err != nil {
		t.Fatal(err)
	}
	if *m != (Media{Type: "image", MediaID: "MEDIA_ID_1", CreatedAt: 1732154400}) {
		t.Fatalf("media = %+v", m)
	}
	calls := f.recorded("/cgi-bin/media/upload")
	if len(calls) != 2 || calls[1].Method != http.MethodPost || calls[1].Query.Get("type") != "image" ||
		!strings.HasPrefix(calls[1].ContentType, "multipart/form-data; boundary=") {
		t.Fatalf("requests = %+v", calls)
	}
	if gotField != "media" || gotName != "card.jpg" || gotType != "image/jpeg" || !bytes.Equal(gotData, jpegBytes) {
		t.Fatalf("part %q %q %q %d bytes", gotField, gotName, gotType, len(gotData))
	}
}

func TestUploadMediaTooLarge(t *testing.T) {
	f := newFake(t)
	big := io.LimitReader(zeroReader{}, MaxUploadBytes+1)
	if _, err := f.client().UploadMedia(t.Context(), "image", "a.jpg", "image/jpeg", big); err == nil {
		t.Fatal("oversized upload accepted")
	}
	if n := len(f.recorded("/cgi-bin/media/upload")); n != 0 {
		t.Fatalf("oversized upload sent %d requests", n)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestGetMedia(t *testing.T) {
	f := newFake(t)
	f.route("/cgi-bin/media/get", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("media_id") {
		case "GOOD":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Disposition", `attachment; filename="GOOD.jpg"`)
			_, _ = w.Write(jpegBytes)
		case "SNIFF":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(` {"errcode":40007,"errmsg":"invalid media_id"}`))
		case "BIG":
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = io.Copy(w, io.LimitReader(zeroReader{}, maxMediaBytes+1))
		default:
			writeJSON(w, errBody(40007, "invalid media_id"))
		}
	})
	c := f.client()
	tok, _ := c.AccessToken(t.Context())
	f.revoke(tok)
	body, ct, err := c.GetMedia(t.Context(), "GOOD")
	if err != nil || ct != "image/jpeg" || !bytes.Equal(body, jpegBytes) {
		t.Fatalf("GetMedia = %d bytes %q %v", len(body), ct, err)
	}
	if n := len(f.recorded("/cgi-bin/media/get")); n != 2 {
		t.Fatalf("calls = %d, want 2 (token retry)", n)
	}
	for _, id := range []string{"MISSING", "SNIFF"} {
		_, _, err := c.GetMedia(t.Context(), id)
		var we *Error
		if !errors.As(err, &we) || we.Code != 40007 {
			t.Fatalf("%s: err = %v, want *Error 40007", id, err)
		}
	}
	if _, _, err := c.GetMedia(t.Context(), "BIG"); err == nil {
		t.Fatal("oversized media accepted")
	}
}
