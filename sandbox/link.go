package sandbox

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLinkLife is the longest a URL Link or URL Scheme may live (h).
const maxLinkLife = 30 * 24 * time.Hour

// queryChars are the characters allowed in a link query (h).
const queryChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~%"

// linkExpiry is the expiry part shared by URL Link and URL Scheme.
type linkExpiry struct {
	IsExpire       *bool `json:"is_expire"` // legacy; ignored
	ExpireType     int   `json:"expire_type"`
	ExpireTime     int64 `json:"expire_time"`
	ExpireInterval int   `json:"expire_interval"`
}

// validate answers 85401 when the link would outlive 30 days or has
// already expired. Permanent links no longer exist, so with no expiry given
// the link lives the maximum.
func (e linkExpiry) validate(now time.Time) error {
	bad := wxErr(85401, "time limit between 1min and 30days")
	switch e.ExpireType {
	case 0:
		if e.ExpireTime == 0 {
			return nil
		}
		d := time.Unix(e.ExpireTime, 0).Sub(now)
		if d < time.Minute || d > maxLinkLife {
			return bad
		}
	case 1:
		if e.ExpireInterval < 1 || e.ExpireInterval > 30 {
			return bad
		}
	default:
		return wxErr(47001, "data format error")
	}
	return nil
}

// checkLinkTarget validates a page path (no query; leading '/' tolerated;
// "" means home) and its query: 40165 for a page the app does not have,
// 40212 for a bad query.
func (a *appState) checkLinkTarget(path, query string) error {
	path = strings.TrimPrefix(path, "/")
	if path != "" && (strings.Contains(path, "?") || !a.hasPage(path)) {
		return wxErr(40165, "invalid weapp pagepath")
	}
	if len(query) > 1024 {
		return wxErr(40212, "invalid query")
	}
	for _, c := range query {
		if !strings.ContainsRune(queryChars, c) {
			return wxErr(40212, "invalid query")
		}
	}
	return nil
}

type urlLinkRequest struct {
	Path       string `json:"path"`
	Query      string `json:"query"`
	EnvVersion string `json:"env_version"`
	linkExpiry
}

// handleURLLink serves POST /wxa/generate_urllink.
func (s *Server) handleURLLink(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req urlLinkRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	if err := a.checkLinkTarget(req.Path, req.Query); err != nil {
		return err
	}
	if _, err := envVersion(req.EnvVersion); err != nil {
		return err
	}
	if err := req.validate(s.now()); err != nil {
		return err
	}
	writeOK(w, map[string]any{"url_link": "https://wxaurl.cn/" + randomCode(12)})
	return nil
}

type schemeRequest struct {
	JumpWxa *struct {
		Path       string `json:"path"`
		Query      string `json:"query"`
		EnvVersion string `json:"env_version"`
	} `json:"jump_wxa"`
	linkExpiry
}

// handleGenerateScheme serves POST /wxa/generatescheme. Without jump_wxa
// the scheme opens the home page.
func (s *Server) handleGenerateScheme(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req schemeRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	if j := req.JumpWxa; j != nil {
		if err := a.checkLinkTarget(j.Path, j.Query); err != nil {
			return err
		}
		if _, err := envVersion(j.EnvVersion); err != nil {
			return err
		}
	}
	if err := req.validate(s.now()); err != nil {
		return err
	}
	writeOK(w, map[string]any{"openlink": "weixin://dl/business/?t=" + randomCode(13)})
	return nil
}

type shortLinkRequest struct {
	PageURL     string `json:"page_url"`
	PageTitle   string `json:"page_title"`
	IsPermanent bool   `json:"is_permanent"`
}

// handleShortLink serves POST /wxa/genwxashortlink: page_url (≤1024 chars,
// may carry a query) is required; page_title is cut to 20 characters plus
// "...".
func (s *Server) handleShortLink(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req shortLinkRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	if req.PageURL == "" || len(req.PageURL) > 1024 {
		return wxErr(40165, "invalid weapp pagepath")
	}
	path, query, _ := strings.Cut(req.PageURL, "?")
	if err := a.checkLinkTarget(path, query); err != nil {
		return err
	}
	title := req.PageTitle
	if utf8.RuneCountInString(title) > 20 {
		title = string([]rune(title)[:20]) + "..."
	}
	writeOK(w, map[string]any{"link": "#小程序://" + a.AppID + "/" + title + "/" + randomCode(15)})
	return nil
}
