package sandbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"
)

// maxImage is the temporary-media image limit (2 MB, f).
const maxImage = 2 << 20

// mediaItem is an uploaded temporary image.
type mediaItem struct {
	AppID       string
	Data        []byte
	ContentType string
	Ext         string
	Expires     time.Time
}

// sniffImage recognises JPEG, PNG and GIF by their magic bytes.
func sniffImage(b []byte) (contentType, ext string, ok bool) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg", "jpg", true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", "png", true
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif", "gif", true
	}
	return "", "", false
}

// handleMediaUpload serves POST /cgi-bin/media/upload: type other than
// image is 40004, a missing "media" file part 41005, more than 2 MB 40006,
// and bytes that are not JPEG/PNG/GIF 40005. The body is read under the
// server lock, which is fine for loopback tests.
func (s *Server) handleMediaUpload(w http.ResponseWriter, r *http.Request, a *appState) error {
	if r.URL.Query().Get("type") != "image" {
		return wxErr(40004, "invalid media type")
	}
	data, err := readMediaPart(r)
	if err != nil {
		return err
	}
	ct, ext, ok := sniffImage(data)
	if !ok {
		return wxErr(40005, "invalid file type")
	}
	id := base64.RawURLEncoding.EncodeToString(randBytes(48))
	now := s.now()
	s.media[id] = &mediaItem{AppID: a.AppID, Data: data, ContentType: ct, Ext: ext, Expires: now.Add(s.cfg.MediaTTL)}
	s.mediaOrder.push(id)
	s.mediaBytes += int64(len(data))
	s.trimMedia()
	writeJSON(w, http.StatusOK, map[string]any{"type": "image", "media_id": id, "created_at": now.Unix()})
	return nil
}

// readMediaPart returns the bytes of the multipart file part "media".
func readMediaPart(r *http.Request) ([]byte, error) {
	errMissing := wxErr(41005, "media data missing")
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errMissing
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errMissing
		}
		if err != nil {
			return nil, errMissing
		}
		if p.FormName() == "media" && p.FileName() != "" {
			return readLimited(p)
		}
	}
}

func readLimited(p *multipart.Part) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(p, maxImage+1))
	if err != nil {
		return nil, wxErr(41005, "media data missing")
	}
	if len(data) > maxImage {
		return nil, wxErr(40006, "invalid media size")
	}
	return data, nil
}

// checkMedia answers 40007 unless id is a live media of app a. The caller
// holds s.mu.
func (s *Server) checkMedia(a *appState, id string) error {
	m, ok := s.media[id]
	if !ok || m.AppID != a.AppID || !s.now().Before(m.Expires) {
		return wxErr(40007, "invalid media_id")
	}
	return nil
}

// handleMediaGet serves GET /cgi-bin/media/get: the bytes with their image
// Content-Type and an attachment Content-disposition, or a JSON 40007.
func (s *Server) handleMediaGet(w http.ResponseWriter, r *http.Request, a *appState) error {
	id := r.URL.Query().Get("media_id")
	if err := s.checkMedia(a, id); err != nil {
		return err
	}
	m := s.media[id]
	w.Header().Set("Content-Type", m.ContentType)
	w.Header().Set("Content-disposition", `attachment; filename="`+id+"."+m.Ext+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(m.Data)))
	_, _ = w.Write(m.Data)
	return nil
}
