package wechat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/miniback/miniback/internal/flex"
)

// MaxUploadBytes caps what UploadMedia reads from its reader. WeChat's own
// limits are lower (images: keep them within 2 MB).
const MaxUploadBytes = 10 << 20

// Media is an uploaded temporary media file; its id lives three days.
type Media struct {
	// Type is the media type, "image" for mini programs.
	Type string
	// MediaID names the file in messages and in GetMedia.
	MediaID string
	// CreatedAt is the upload time in Unix seconds.
	CreatedAt int64
}

// UploadMedia uploads a temporary media file (POST /cgi-bin/media/upload,
// multipart field "media"); mini programs support mediaType "image" only.
// It reads r to the end, at most MaxUploadBytes, and fails when r holds
// more, when r fails, or with *Error from WeChat (e.g. 40004 bad type).
func (c *Client) UploadMedia(ctx context.Context, mediaType, filename, contentType string, r io.Reader) (*Media, error) {
	const api = "/cgi-bin/media/upload"
	data, err := io.ReadAll(io.LimitReader(r, MaxUploadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wechat: %s: read media: %w", api, err)
	}
	if len(data) > MaxUploadBytes {
		return nil, fmt.Errorf("wechat: %s: media larger than %d bytes", api, MaxUploadBytes)
	}
	body, ct, err := multipartBody(filename, contentType, data)
	if err != nil {
		return nil, fmt.Errorf("wechat: %s: %w", api, err)
	}
	req := &request{method: http.MethodPost, path: api, query: url.Values{"type": {mediaType}},
		body: body, contentType: ct, auth: true}
	var ans struct {
		Type      string   `json:"type"`
		MediaID   string   `json:"media_id"`
		CreatedAt flex.Int `json:"created_at"`
	}
	if err := c.callJSON(ctx, req, &ans); err != nil {
		return nil, err
	}
	if ans.MediaID == "" {
		return nil, errUnexpected(api, "no media_id")
	}
	return &Media{Type: ans.Type, MediaID: ans.MediaID, CreatedAt: int64(ans.CreatedAt)}, nil
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")

// multipartBody builds a form with one file part "media" that has a filename
// and a content type, which WeChat needs to accept the file.
func multipartBody(filename, contentType string, data []byte) ([]byte, string, error) {
	if contentType == "" {
		contentType = http.DetectContentType(data)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="media"; filename="`+quoteEscaper.Replace(filename)+`"`)
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", fmt.Errorf("build form: %w", err)
	}
	if _, err := part.Write(data); err != nil {
		return nil, "", fmt.Errorf("build form: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("build form: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// GetMedia downloads a temporary media file (GET /cgi-bin/media/get) and
// returns its bytes and Content-Type. WeChat's JSON error bodies are told
// apart from the file by their Content-Type or leading '{' and returned as
// *Error (40007 for an unknown or expired media id). Answers over 20 MB fail.
func (c *Client) GetMedia(ctx context.Context, mediaID string) ([]byte, string, error) {
	r := &request{method: http.MethodGet, path: "/cgi-bin/media/get",
		query: url.Values{"media_id": {mediaID}}, auth: true}
	resp, err := c.callBinary(ctx, r)
	if err != nil {
		return nil, "", err
	}
	return resp.body, resp.contentType, nil
}
