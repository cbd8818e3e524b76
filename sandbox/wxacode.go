package sandbox

import (
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// sceneChars are the characters allowed in a getwxacodeunlimit scene (g).
const sceneChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~"

type wxaCodeRequest struct {
	Scene      string `json:"scene"`
	Page       string `json:"page"`
	CheckPath  *bool  `json:"check_path"`
	EnvVersion string `json:"env_version"`
	Width      *int   `json:"width"`
	AutoColor  bool   `json:"auto_color"`
	LineColor  *struct {
		R, G, B any
	} `json:"line_color"`
	IsHyaline bool `json:"is_hyaline"`
}

// WxaCodeContent is the string a getwxacodeunlimit QR code encodes, so
// that tests can decode the image and check it.
func WxaCodeContent(appid, page, scene, envVersion string) string {
	q := url.Values{"appid": {appid}, "page": {page}, "scene": {scene}, "env_version": {envVersion}}
	return "https://mp.weixin.qq.com/a/sandbox?" + q.Encode()
}

// handleWxaCodeUnlimit serves POST /wxa/getwxacodeunlimit. On success the
// body is a PNG QR code of WxaCodeContent; the Content-Type says
// image/jpeg, as the real platform's does even for PNG bytes, so clients
// must sniff magic bytes if the format matters. Errors are JSON.
func (s *Server) handleWxaCodeUnlimit(w http.ResponseWriter, r *http.Request, a *appState) error {
	var req wxaCodeRequest
	if err := decodeWX(r, &req); err != nil {
		return err
	}
	page, env, width, err := a.validateWxaCode(&req)
	if err != nil {
		return err
	}
	q, err := qrcode.New(WxaCodeContent(a.AppID, page, req.Scene, env), qrcode.Medium)
	if err != nil {
		return fmt.Errorf("sandbox: qr code: %w", err)
	}
	if req.IsHyaline {
		q.BackgroundColor = color.Transparent
	}
	if c, ok := lineColor(&req); ok {
		q.ForegroundColor = c
	}
	png, err := q.PNG(width)
	if err != nil {
		return fmt.Errorf("sandbox: qr png: %w", err)
	}
	w.Header().Set("Content-Type", "image/jpeg")
	_, _ = w.Write(png)
	return nil
}

func (a *appState) validateWxaCode(req *wxaCodeRequest) (page, env string, width int, err error) {
	if !validScene(req.Scene) {
		return "", "", 0, wxErr(40169, "invalid length for scene, or the data is not json string")
	}
	page = req.Page
	if page == "" {
		page = a.Pages[0]
	}
	checkPath := req.CheckPath == nil || *req.CheckPath
	if strings.HasPrefix(page, "/") || strings.Contains(page, "?") || (checkPath && !a.hasPage(page)) {
		return "", "", 0, wxErr(41030, "invalid page")
	}
	width = 430
	if req.Width != nil {
		width = *req.Width
	}
	if width < 280 || width > 1280 {
		return "", "", 0, wxErr(40189, "invalid width")
	}
	env, err = envVersion(req.EnvVersion)
	return page, env, width, err
}

func validScene(scene string) bool {
	if scene == "" || len(scene) > 32 {
		return false
	}
	for _, c := range scene {
		if !strings.ContainsRune(sceneChars, c) {
			return false
		}
	}
	return true
}

// envVersion defaults to release and answers 40097 for unknown versions.
func envVersion(v string) (string, error) {
	switch v {
	case "":
		return "release", nil
	case "release", "trial", "develop":
		return v, nil
	}
	return "", wxErr(40097, "invalid args")
}

// lineColor reads line_color, whose components SDKs send as numbers or
// strings; it applies only when auto_color is false.
func lineColor(req *wxaCodeRequest) (color.Color, bool) {
	if req.AutoColor || req.LineColor == nil {
		return nil, false
	}
	comp := func(v any) uint8 {
		var n int
		switch x := v.(type) {
		case float64:
			n = int(x)
		case string:
			_, _ = fmt.Sscan(x, &n)
		}
		return uint8(max(0, min(255, n)))
	}
	return color.RGBA{R: comp(req.LineColor.R), G: comp(req.LineColor.G), B: comp(req.LineColor.B), A: 255}, true
}
