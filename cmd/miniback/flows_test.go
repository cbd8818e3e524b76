package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/wxcrypto"
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
	// The first fetch, then one normal refetch after the 40001, which hands
	// back the same (still valid) token, so a refresh is forced at once
	// rather than retrying with the token WeChat just refused.
	if got := e.m.Sandbox.Calls("/cgi-bin/stable_token") - tokenCalls; got != 3 {
		t.Fatalf("token fetched %d more times, want 3", got)
	}
}

// withLegacy turns the legacy encrypted_data routes on for every app.
func withLegacy(c *config.Config) {
	for i := range c.Apps {
		c.Apps[i].LegacyDecrypt = true
	}
}

// legacyBlob is what the sandbox's legacy buttons give the mini program.
type legacyBlob struct {
	RawData       string `json:"raw_data"`
	Signature     string `json:"signature"`
	EncryptedData string `json:"encrypted_data"`
	IV            string `json:"iv"`
}

func (e *testEnv) legacyPhone(openid, number string) legacyBlob {
	e.t.Helper()
	var b legacyBlob
	e.do("POST", "/sandbox/phone-encrypted", "", map[string]string{"appid": config.DemoAppID, "openid": openid, "phone_number": number}, &b)
	return b
}

func (e *testEnv) legacyUserInfo(openid, nickname string) legacyBlob {
	e.t.Helper()
	var b legacyBlob
	e.do("POST", "/sandbox/userinfo", "", map[string]string{"appid": config.DemoAppID, "openid": openid, "nickname": nickname}, &b)
	return b
}

func TestLegacyPhoneAndUserInfo(t *testing.T) {
	e := startMain(t, withLegacy)
	l := e.login("hank")
	app := "/api/v1/" + config.DemoAppID
	enc := e.legacyPhone(l.User.OpenID, "13700137000")
	var phone struct {
		PurePhoneNumber string `json:"pure_phone_number"`
	}
	if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &phone); st != 200 || phone.PurePhoneNumber != "13700137000" {
		t.Fatalf("legacy phone: %d %+v", st, phone)
	}
	enc = e.legacyUserInfo(l.User.OpenID, "Hank")
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
	enc = e.legacyPhone(other.User.OpenID, "13600136000")
	if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &bad); st != 400 || bad.Error.Code != "decrypt_failed" {
		t.Fatalf("foreign cipher: %d %+v", st, bad)
	}
}

// TestLegacyOffByDefault: without apps[].legacy_decrypt both legacy routes
// are 404 and nothing is decrypted (issue #6 item 1).
func TestLegacyOffByDefault(t *testing.T) {
	e := startMain(t, nil)
	l := e.login("lena")
	app := "/api/v1/" + config.DemoAppID
	enc := e.legacyPhone(l.User.OpenID, "13700137000")
	var bad errorAnswer
	if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &bad); st != 404 || bad.Error.Code != "not_found" {
		t.Fatalf("legacy phone with legacy_decrypt off: %d %+v", st, bad)
	}
	enc = e.legacyUserInfo(l.User.OpenID, "Lena")
	body := map[string]string{"raw_data": enc.RawData, "signature": enc.Signature, "encrypted_data": enc.EncryptedData, "iv": enc.IV}
	if st, _ := e.do("POST", app+"/me/userinfo", l.AccessToken, body, &bad); st != 404 || bad.Error.Code != "not_found" {
		t.Fatalf("userinfo with legacy_decrypt off: %d %+v", st, bad)
	}
	var me struct{ PhoneNumber, Nickname string }
	e.do("GET", app+"/me", l.AccessToken, nil, &me)
	if me.PhoneNumber != "" || me.Nickname != "" {
		t.Fatalf("a refused legacy call changed the user: %+v", me)
	}
}

// TestLegacyNoOracle: with legacy_decrypt on, userinfo answers only the
// profile the caller already holds signed, and every refused payload gets
// the same answer, so neither route decrypts for an attacker nor tells
// padding errors from others (issue #6 item 1: a forged phone number was
// built with userinfo's echo).
func TestLegacyNoOracle(t *testing.T) {
	e := startMain(t, withLegacy)
	l := e.login("mona")
	app := "/api/v1/" + config.DemoAppID
	profile := e.legacyUserInfo(l.User.OpenID, "Mona")
	phone := e.legacyPhone(l.User.OpenID, "13700137000")

	// The phone blob under a genuinely signed raw_data: the old route echoed
	// its plaintext.
	var bad errorAnswer
	body := map[string]string{"raw_data": profile.RawData, "signature": profile.Signature, "encrypted_data": phone.EncryptedData, "iv": phone.IV}
	st, _ := e.do("POST", app+"/me/userinfo", l.AccessToken, body, &bad)
	if st != 400 || bad.Error.Code != "decrypt_failed" {
		t.Fatalf("userinfo decrypted another blob: %d %+v", st, bad)
	}
	refusal := bad.Error.Message

	// Broken padding (last ciphertext block changed) and a blob of the wrong
	// kind (the profile sent as a phone) must look the same.
	ct, _ := base64.StdEncoding.DecodeString(phone.EncryptedData)
	ct[len(ct)-1] ^= 0x01
	answers := map[string]errorAnswer{}
	for name, enc := range map[string]legacyBlob{
		"padding":    {EncryptedData: base64.StdEncoding.EncodeToString(ct), IV: phone.IV},
		"wrong kind": profile,
	} {
		var a errorAnswer
		if st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc.EncryptedData, "iv": enc.IV}, &a); st != 400 {
			t.Fatalf("%s: %d %+v", name, st, a)
		}
		answers[name] = a
	}
	if answers["padding"] != answers["wrong kind"] || answers["padding"].Error.Message != refusal {
		t.Fatalf("refusals differ: %+v", answers)
	}
}

// TestLegacyPhoneStrict: a phone payload that decrypts but is not exactly
// WeChat's (inconsistent number, extra field, stale or foreign watermark)
// is refused and stores nothing (issue #6 item 1).
func TestLegacyPhoneStrict(t *testing.T) {
	e := startMain(t, withLegacy)
	l := e.login("nina")
	app := "/api/v1/" + config.DemoAppID
	key, _ := base64.StdEncoding.DecodeString(e.m.Sandbox.SessionKey(config.DemoAppID, l.User.OpenID))
	now := time.Now().Unix()
	wm := func(ts int64, appid string) string { return fmt.Sprintf(`{"timestamp":%d,"appid":%q}`, ts, appid) }
	tests := []struct {
		name, plain string
		status      int
	}{
		{"consistent", `{"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":"86","watermark":` + wm(now, config.DemoAppID) + `}`, 200},
		{"foreign number", `{"phoneNumber":"+14155550100","purePhoneNumber":"4155550100","countryCode":"1","watermark":` + wm(now, config.DemoAppID) + `}`, 200},
		{"number not made of its parts", `{"phoneNumber":"13900000000","purePhoneNumber":"13800138000","countryCode":"86","watermark":` + wm(now, config.DemoAppID) + `}`, 400},
		{"extra field", `{"phoneNumber":"13900000000","purePhoneNumber":"13900000000","countryCode":"86","x":1,"watermark":` + wm(now, config.DemoAppID) + `}`, 400},
		{"key in other case", `{"PhoneNumber":"13900000000","purePhoneNumber":"13900000000","countryCode":"86","watermark":` + wm(now, config.DemoAppID) + `}`, 400},
		{"not digits", `{"phoneNumber":"139O0000000","purePhoneNumber":"139O0000000","countryCode":"86","watermark":` + wm(now, config.DemoAppID) + `}`, 400},
		{"watermark before the session", `{"phoneNumber":"13900000000","purePhoneNumber":"13900000000","countryCode":"86","watermark":` + wm(now-3600, config.DemoAppID) + `}`, 400},
		{"watermark in the future", `{"phoneNumber":"13900000000","purePhoneNumber":"13900000000","countryCode":"86","watermark":` + wm(now+3600, config.DemoAppID) + `}`, 400},
		{"other app", `{"phoneNumber":"13900000000","purePhoneNumber":"13900000000","countryCode":"86","watermark":` + wm(now, "wxother") + `}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iv := make([]byte, 16)
			enc, err := wxcrypto.EncryptUserData(key, iv, []byte(tt.plain))
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				PhoneNumber string `json:"phone_number"`
			}
			st, _ := e.do("POST", app+"/me/phone", l.AccessToken, map[string]string{"encrypted_data": enc, "iv": base64.StdEncoding.EncodeToString(iv)}, &out)
			if st != tt.status {
				t.Fatalf("status %d, want %d", st, tt.status)
			}
			var me struct {
				PhoneNumber string `json:"phone_number"`
			}
			e.do("GET", app+"/me", l.AccessToken, nil, &me)
			if tt.status != 200 && me.PhoneNumber == "13900000000" {
				t.Fatal("a refused payload was stored")
			}
		})
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
