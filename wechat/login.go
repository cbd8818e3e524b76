package wechat

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/miniback/miniback/internal/flex"
	"github.com/miniback/miniback/wxcrypto"
)

// Session is what code2Session returns for a wx.login code. SessionKey must
// stay on the server: it is left out of JSON and redacted by every fmt verb
// and by slog.
type Session struct {
	// OpenID identifies the user within this mini program.
	OpenID string `json:"openid"`
	// UnionID identifies the user across the Open Platform account; empty
	// when the app is not bound to one.
	UnionID string `json:"unionid,omitempty"`
	// SessionKey is the user's session_key (base64 of 16 bytes).
	SessionKey string `json:"-"`
}

const redacted = "[redacted]"

// String describes the session without its session key.
func (s Session) String() string {
	return fmt.Sprintf("wechat.Session{OpenID:%q, UnionID:%q, SessionKey:%s}", s.OpenID, s.UnionID, redacted)
}

// GoString is String, so %#v hides the session key too.
func (s Session) GoString() string { return s.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %q, ...).
func (s Session) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue logs the openid and unionid and redacts the session key.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("openid", s.OpenID), slog.String("unionid", s.UnionID),
		slog.String("session_key", redacted))
}

type sessionAnswer struct {
	envelope
	OpenID     string `json:"openid"`
	UnionID    string `json:"unionid"`
	SessionKey string `json:"session_key"`
}

// Code2Session exchanges a wx.login code for the user's openid, unionid and
// session_key (GET /sns/jscode2session with the AppSecret; no access token
// is involved, so token trouble cannot break login). It fails with *Error
// 40029 for an invalid or expired code, 40163 for a code already used and
// 40226 for a blocked user.
func (c *Client) Code2Session(ctx context.Context, code string) (*Session, error) {
	// The query url.Values.Encode would write (keys sorted), without the map.
	q := "appid=" + url.QueryEscape(c.appID) + "&grant_type=authorization_code&js_code=" +
		url.QueryEscape(code) + "&secret=" + url.QueryEscape(c.secret)
	r := &request{method: http.MethodGet, path: "/sns/jscode2session", rawQuery: q}
	var ans sessionAnswer
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return nil, err
	}
	if ans.OpenID == "" || ans.SessionKey == "" {
		return nil, errUnexpected(r.path, "no openid or session_key")
	}
	return &Session{OpenID: ans.OpenID, UnionID: ans.UnionID, SessionKey: ans.SessionKey}, nil
}

// PhoneInfo is the phone number bound to a user's WeChat account.
type PhoneInfo struct {
	// PhoneNumber includes the country code for numbers outside China.
	PhoneNumber string
	// PurePhoneNumber has no country code.
	PurePhoneNumber string
	// CountryCode is e.g. "86"; WeChat sends it as a number or a string.
	CountryCode string
	// Watermark says which app the number was issued to, and when.
	Watermark wxcrypto.Watermark
}

type phoneAnswer struct {
	PhoneInfo struct {
		PhoneNumber     string      `json:"phoneNumber"`
		PurePhoneNumber string      `json:"purePhoneNumber"`
		CountryCode     flex.String `json:"countryCode"`
		Watermark       struct {
			Timestamp flex.Int `json:"timestamp"`
			AppID     string   `json:"appid"`
		} `json:"watermark"`
	} `json:"phone_info"`
}

// PhoneNumber exchanges a phone-number button code (not a wx.login code)
// for the user's number (POST /wxa/business/getuserphonenumber). It fails
// with *Error 40029 for an invalid or used code, and with an error wrapping
// wxcrypto.ErrWatermark when the watermark does not name this client's
// appid (wxcrypto.CheckWatermark: a missing appid is a mismatch).
func (c *Client) PhoneNumber(ctx context.Context, code string) (*PhoneInfo, error) {
	r, err := newJSONRequest("/wxa/business/getuserphonenumber", map[string]string{"code": code})
	if err != nil {
		return nil, err
	}
	var ans phoneAnswer
	if err := c.callJSON(ctx, r, &ans); err != nil {
		return nil, err
	}
	p := ans.PhoneInfo
	if p.PhoneNumber == "" && p.PurePhoneNumber == "" {
		return nil, errUnexpected(r.path, "no phone_info")
	}
	wm := wxcrypto.Watermark{Timestamp: int64(p.Watermark.Timestamp), AppID: p.Watermark.AppID}
	if err := wxcrypto.CheckWatermark(wm, c.appID); err != nil {
		return nil, fmt.Errorf("wechat: %s: %w", r.path, err)
	}
	return &PhoneInfo{PhoneNumber: p.PhoneNumber, PurePhoneNumber: p.PurePhoneNumber,
		CountryCode: string(p.CountryCode), Watermark: wm}, nil
}

// CheckSession asks WeChat whether sessionKey is still the user's current
// session_key (GET /wxa/checksession). It returns nil when it is and *Error
// 87009 when it is not.
func (c *Client) CheckSession(ctx context.Context, openID, sessionKey string) error {
	q := url.Values{"openid": {openID}, "signature": {wxcrypto.CheckSessionSignature(sessionKey)},
		"sig_method": {"hmac_sha256"}}
	r := &request{method: http.MethodGet, path: "/wxa/checksession", query: q, auth: true}
	return c.callJSON(ctx, r, nil)
}
