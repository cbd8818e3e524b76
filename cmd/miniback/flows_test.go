package main

import (
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
)

func TestPhoneByCode(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("frank")
	var pc struct{ Code string }
	e.do("POST", "/sandbox/phone-code", "", map[string]string{"appid": config.DemoAppID, "openid": l.User.OpenID, "phone_number": "+8613800138000"}, &pc)
	var out struct {
		PhoneNumber     string `json:"phone_number"`
		PurePhoneNumber string `json:"pure_phone_number"`
		CountryCode     string `json:"country_code"`
	}
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me/phone", l.AccessToken, map[string]string{"code": pc.Code}, &out); st != 200 {
		t.Fatalf("phone: %d", st)
	}
	if out.PurePhoneNumber != "13800138000" || out.CountryCode != "86" || !strings.Contains(out.PhoneNumber, "13800138000") {
		t.Fatalf("phone = %+v", out)
	}
	var me struct {
		PhoneNumber string `json:"phone_number"`
	}
	e.do("GET", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, nil, &me)
	if me.PhoneNumber != out.PhoneNumber {
		t.Fatalf("phone not stored: %+v", me)
	}
	// The same code twice is refused by WeChat.
	var bad errorAnswer
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me/phone", l.AccessToken, map[string]string{"code": pc.Code}, &bad); st != 400 || bad.Error.WeChatErrCode != 40029 {
		t.Fatalf("reused phone code: %d %+v", st, bad)
	}
}

// TestTokenInvalidRetriedOnce injects a 40001 on the phone call: miniback
// drops its cached access token, fetches a new one and retries once.
func TestTokenInvalidRetriedOnce(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("gina")
	var pc struct{ Code string }
	e.do("POST", "/sandbox/phone-code", "", map[string]string{"appid": config.DemoAppID, "openid": l.User.OpenID, "phone_number": "13900139000"}, &pc)
	path := "/wxa/business/getuserphonenumber"
	e.do("POST", "/sandbox/faults", "", map[string]any{"path": path, "errcode": 40001, "count": 1}, nil)
	tokenCalls := e.m.Sandbox.Calls("/cgi-bin/stable_token")
	if st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/me/phone", l.AccessToken, map[string]string{"code": pc.Code}, nil); st != 200 {
		t.Fatalf("phone after one 40001: %d", st)
	}
	if got := e.m.Sandbox.Calls(path); got != 2 {
		t.Fatalf("%s called %d times, want 2 (one failure, one retry)", path, got)
	}
	// The first fetch, then one normal refetch after the 40001 (no force_refresh:
	// the retry with the refetched token passed).
	if got := e.m.Sandbox.Calls("/cgi-bin/stable_token") - tokenCalls; got != 2 {
		t.Fatalf("token fetched %d more times, want 2", got)
	}
}

func TestLegacyPhoneAndUserInfo(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("hank")
	app := "/api/v1/" + config.DemoAppID
	var enc struct {
		RawData       string `json:"raw_data"`
		Signature     string `json:"signature"`
		EncryptedData string `json:"encrypted_data"`
		IV            string `json:"iv"`
	}
	e.do("POST", "/sandbox/phone-encrypted", "", map[string]string{"appid": config.DemoAppID, "openid": l.User.OpenID, "phone_number": "13700137000"}, &enc)
	var phone struct {
		PurePhoneNumber string `json:"pure_phone_number"`
	}
	if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &phone); st != 200 || phone.PurePhoneNumber != "13700137000" {
		t.Fatalf("legacy phone: %d %+v", st, phone)
	}
	e.do("POST", "/sandbox/userinfo", "", map[string]string{"appid": config.DemoAppID, "openid": l.User.OpenID, "nickname": "Hank"}, &enc)
	body := map[string]string{"raw_data": enc.RawData, "signature": enc.Signature, "encrypted_data": enc.EncryptedData, "iv": enc.IV}
	var info struct {
		OpenID   string `json:"openId"`
		NickName string `json:"nickName"`
	}
	if st, _ := e.do("POST", app+"/me/userinfo", l.AccessToken, body, &info); st != 200 || info.OpenID != l.User.OpenID || info.NickName != "Hank" {
		t.Fatalf("userinfo: %d %+v", st, info)
	}
	var me struct{ Nickname string }
	e.do("GET", app+"/me", l.AccessToken, nil, &me)
	if me.Nickname != "Hank" {
		t.Fatalf("nickname not stored: %+v", me)
	}
	// A tampered raw_data fails the signature check.
	body["raw_data"] = strings.Replace(enc.RawData, "Hank", "Mallory", 1)
	var bad errorAnswer
	if st, _ := e.do("POST", app+"/me/userinfo", l.AccessToken, body, &bad); st != 400 || bad.Error.Code != "invalid_signature" {
		t.Fatalf("tampered userinfo: %d %+v", st, bad)
	}
	// Another user's data does not open with this session's key.
	other := e.login("ivy")
	e.do("POST", "/sandbox/phone-encrypted", "", map[string]string{"appid": config.DemoAppID, "openid": other.User.OpenID, "phone_number": "13600136000"}, &enc)
	if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &bad); st != 400 || bad.Error.Code != "decrypt_failed" {
		t.Fatalf("foreign cipher: %d %+v", st, bad)
	}
}

func TestPatchMe(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("jack")
	var me struct{ Nickname, AvatarURL string }
	st, _ := e.do("PATCH", "/api/v1/"+config.DemoAppID+"/me", l.AccessToken, map[string]string{"nickname": "杰克", "avatar_url": "https://example.com/a.png?x=1&y=2"}, &me)
	if st != 200 || me.Nickname != "杰克" {
		t.Fatalf("patch: %d %+v", st, me)
	}
}

// TestWeChatFailuresMapToGatewayErrors checks that WeChat trouble is a
// 5xx (or 429) naming WeChat, never a 500.
func TestWeChatFailuresMapToGatewayErrors(t *testing.T) {
	e := startMain(t, func(c *config.Config) { c.WeChat.Timeout = 300 * time.Millisecond })
	path := "/sns/jscode2session"
	tests := []struct {
		name   string
		fault  map[string]any
		status int
		code   string
		errc   int
	}{
		{"busy", map[string]any{"path": path, "errcode": -1}, 503, "wechat_busy", -1},
		{"quota", map[string]any{"path": path, "errcode": 45011}, 429, "wechat_rate_limited", 45011},
		{"blocked", map[string]any{"path": path, "errcode": 40226}, 403, "forbidden", 40226},
		{"http 502", map[string]any{"path": path, "http_status": 502}, 502, "wechat_unavailable", 0},
		{"slow", map[string]any{"path": path, "delay_ms": 2000}, 504, "wechat_timeout", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do("POST", "/sandbox/faults", "", tt.fault, nil)
			var out errorAnswer
			st, _ := e.do("POST", "/api/v1/"+config.DemoAppID+"/login", "", map[string]string{"code": e.code("kim")}, &out)
			if st != tt.status || out.Error.Code != tt.code || out.Error.WeChatErrCode != tt.errc {
				t.Fatalf("%d %+v", st, out)
			}
		})
	}
}
