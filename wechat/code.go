package wechat

import (
	"bytes"
	"context"
)

// UnlimitedCodeRequest asks for a mini program code without a count limit
// (POST /wxa/getwxacodeunlimit). Zero values are left out so WeChat's
// defaults apply.
type UnlimitedCodeRequest struct {
	// Scene is passed to the page; required, at most 32 visible characters
	// from [0-9A-Za-z] and !#$&'()*+,/:;=?@-._~.
	Scene string `json:"scene"`
	// Page is the page to open, without a leading '/' or a query; empty
	// opens the home page.
	Page string `json:"page,omitempty"`
	// CheckPath, when false, allows pages not yet published; nil is true.
	CheckPath *bool `json:"check_path,omitempty"`
	// EnvVersion is "release" (default), "trial" or "develop".
	EnvVersion string `json:"env_version,omitempty"`
	// Width is the code's width in pixels, 280 to 1280 (default 430).
	Width int `json:"width,omitempty"`
	// AutoColor picks the line colour automatically.
	AutoColor bool `json:"auto_color,omitempty"`
	// LineColor is the line colour when AutoColor is false.
	LineColor *Color `json:"line_color,omitempty"`
	// IsHyaline asks for a transparent background (the bytes are PNG).
	IsHyaline bool `json:"is_hyaline,omitempty"`
}

// Color is an RGB colour for a code's lines.
type Color struct {
	R int `json:"r"` // red, 0-255
	G int `json:"g"` // green, 0-255
	B int `json:"b"` // blue, 0-255
}

// UnlimitedCode returns a mini program code image and its content type.
// WeChat labels transparent PNGs image/jpeg, so the type is taken from the
// bytes when they start like a PNG or a JPEG. It fails with *Error from the
// JSON error body, e.g. 41030 for a page that is not published or 40169 for
// a bad scene.
func (c *Client) UnlimitedCode(ctx context.Context, req *UnlimitedCodeRequest) ([]byte, string, error) {
	r, err := newJSONRequest("/wxa/getwxacodeunlimit", req)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.callBinary(ctx, r)
	if err != nil {
		return nil, "", err
	}
	return resp.body, imageType(resp.body, resp.contentType), nil
}

func imageType(b []byte, header string) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	}
	return header
}
