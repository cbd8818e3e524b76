package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/miniback/miniback"
)

// Media limits: WeChat takes images of at most 2 MB for temporary media,
// and keeps them three days.
const (
	maxMediaBytes = 2 << 20
	mediaLifetime = 72 * time.Hour
)

var imageTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}

// handleUploadMedia checks type and size before anything is sent to WeChat,
// then uploads the image as temporary media and records it.
func (s *Server) handleUploadMedia(w http.ResponseWriter, r *http.Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return miniback.Errorf(miniback.ECodeUnsupportedMedia, "the body must be multipart/form-data with a field named media")
	}
	data, err := readMediaPart(w, r)
	if err != nil {
		return err
	}
	ctype := http.DetectContentType(data)
	ext, ok := imageTypes[ctype]
	if !ok {
		return miniback.Errorf(miniback.ECodeUnsupportedMedia, "media must be a JPEG, PNG or GIF image")
	}
	a := miniback.AuthFrom(r.Context())
	up, err := s.WeChat[a.AppID].UploadMedia(r.Context(), "image", "media"+ext, ctype, bytes.NewReader(data))
	if err != nil {
		return fromWeChat(r.Context(), err)
	}
	created := time.Unix(up.CreatedAt, 0).UTC()
	if up.CreatedAt == 0 {
		created = s.Now().UTC()
	}
	m := &miniback.Media{MediaID: up.MediaID, AppID: a.AppID, UserID: a.UserID, Type: "image", ContentType: ctype,
		Size: int64(len(data)), CreatedAt: created, ExpiresAt: created.Add(mediaLifetime)}
	if err := s.Media.AddMedia(r.Context(), m); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"media_id": m.MediaID, "type": m.Type, "created_at": up.CreatedAt})
	return nil
}

// readMediaPart returns the bytes of the multipart field "media", refusing
// bodies over the limit with 413.
func readMediaPart(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxMediaBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "the multipart body could not be read")
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, multipartError(err, "no field named media")
		}
		if part.FormName() != "media" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxMediaBytes+1))
		if err != nil {
			return nil, multipartError(err, "the media field could not be read")
		}
		if len(data) > maxMediaBytes {
			return nil, miniback.Errorf(miniback.ECodeTooLarge, "media must be at most %d bytes", maxMediaBytes)
		}
		if len(data) == 0 {
			return nil, miniback.Errorf(miniback.ECodeInvalidRequest, "media is empty")
		}
		return data, nil
	}
}

func multipartError(err error, msg string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return miniback.Errorf(miniback.ECodeTooLarge, "media must be at most %d bytes", maxMediaBytes)
	}
	return miniback.Errorf(miniback.ECodeInvalidRequest, "%s", msg)
}

// handleGetMedia serves a temporary media file from WeChat to the user
// who uploaded it. The id is checked against WeChat's alphabet so nothing
// can escape into a path or a query; WeChat's JSON error bodies are
// errors, never served as an image.
func (s *Server) handleGetMedia(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("media_id")
	if !mediaIDPattern.MatchString(id) {
		return miniback.Errorf(miniback.ECodeInvalidRequest, "media_id has characters WeChat never uses")
	}
	a := miniback.AuthFrom(r.Context())
	// A media id is a bearer capability at WeChat: only its uploader may
	// use it here. Another user's media and an unknown id get the same
	// answer, so ids cannot be probed.
	rec, err := s.Media.Media(r.Context(), a.AppID, id)
	if miniback.IsNotFound(err) || (err == nil && rec.UserID != a.UserID) {
		return miniback.Errorf(miniback.ECodeNotFound, "no media with this id was uploaded by this user")
	}
	if err != nil {
		return err
	}
	data, ctype, err := s.WeChat[a.AppID].GetMedia(r.Context(), id)
	if err != nil {
		return fromWeChat(r.Context(), err)
	}
	if sniffed := http.DetectContentType(data); strings.HasPrefix(sniffed, "image/") || ctype == "" {
		ctype = sniffed
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": path.Base(id) + imageTypes[ctype]}))
	_, err = w.Write(data)
	return err
}
