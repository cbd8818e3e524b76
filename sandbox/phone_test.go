package sandbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestGetPhoneNumber(t *testing.T) {
	e := newEnv(t)
	tok := e.token(app1, secret1)
	q := url.Values{"access_token": {tok}}
	r := e.post("/sandbox/phone-code", nil, map[string]string{"appid": app1, "openid": "oP", "phone_number": "+8613800138000"})
	code := r.str("code")
	if code == "" {
		t.Fatalf("phone-code: %d %s", r.Status, r.Body)
	}
	got := e.post("/wxa/business/getuserphonenumber", q, map[string]string{"code": code, "openid": "oP"})
	wantErrcode(t, got, 0)
	var body struct {
		PhoneInfo struct {
			PhoneNumber, PurePhoneNumber string
			CountryCode                  int
			Watermark                    struct {
				Timestamp int64
				AppID     string
			}
		} `json:"phone_info"`
	}
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatal(err)
	}
	pi := body.PhoneInfo
	if pi.PhoneNumber != "13800138000" || pi.PurePhoneNumber != "13800138000" || pi.CountryCode != 86 ||
		pi.Watermark.AppID != app1 || pi.Watermark.Timestamp != e.clk.Now().Unix() {
		t.Fatalf("phone_info %+v", pi)
	}
	wantErrcode(t, e.post("/wxa/business/getuserphonenumber", q, map[string]string{"code": code}), 40029)
}

func TestGetPhoneNumberErrors(t *testing.T) {
	e := newEnv(t)
	tok1, tok2 := e.token(app1, secret1), e.token(app2, secret2)
	code, err := e.s.PhoneCode(app1, "oP", "13800138000")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  string
		body any
		want int
	}{
		{"other app", tok2, map[string]string{"code": code}, 40029},
		{"wrong openid", tok1, map[string]string{"code": code, "openid": "oOther"}, 40029},
		{"unknown code", tok1, map[string]string{"code": "nope"}, 40029},
		{"not an object", tok1, []int{1}, 47001},
		{"wrong type", tok1, map[string]int{"code": 1}, 47001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantErrcode(t, e.post("/wxa/business/getuserphonenumber", url.Values{"access_token": {c.tok}}, c.body), c.want)
		})
	}
	q := url.Values{"access_token": {tok1}}
	wantErrcode(t, e.do(http.MethodPost, "/wxa/business/getuserphonenumber", q, "application/x-www-form-urlencoded", []byte("code="+code)), 47001)
	wantErrcode(t, e.do(http.MethodPost, "/wxa/business/getuserphonenumber", q, "application/json", nil), 44002)
	wantErrcode(t, e.do(http.MethodGet, "/wxa/business/getuserphonenumber", q, "", nil), 43002)
	wantErrcode(t, e.post("/wxa/business/getuserphonenumber", nil, map[string]string{"code": code}), 41001)
	e.clk.Advance(5 * time.Minute)
	wantErrcode(t, e.post("/wxa/business/getuserphonenumber", q, map[string]string{"code": code}), 40029)
}

func TestPhoneNumberFormats(t *testing.T) {
	cases := []struct {
		in         string
		cc         int
		pure, full string
		bad        bool
	}{
		{in: "13800138000", cc: 86, pure: "13800138000", full: "13800138000"},
		{in: "+8613800138000", cc: 86, pure: "13800138000", full: "13800138000"},
		{in: "+1-2025550123", cc: 1, pure: "2025550123", full: "+12025550123"},
		{in: "+852 61234567", cc: 852, pure: "61234567", full: "+85261234567"},
		{in: "+12025550123", bad: true},
		{in: "abc", bad: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p, err := parsePhone(c.in)
			if c.bad {
				if err == nil {
					t.Fatalf("parsePhone(%q) accepted", c.in)
				}
				return
			}
			if err != nil || p.CountryCode != c.cc || p.Pure != c.pure || p.Full() != c.full {
				t.Fatalf("parsePhone(%q) = %+v %q, %v", c.in, p, p.Full(), err)
			}
		})
	}
}

// decryptUserData is the client side of legacy open data, written with
// crypto/aes directly.
func decryptUserData(t *testing.T, sessionKey, data, iv string) map[string]any {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(sessionKey)
	ivb, _ := base64.StdEncoding.DecodeString(iv)
	ct, _ := base64.StdEncoding.DecodeString(data)
	block, err := aes.NewCipher(key)
	if err != nil || len(ivb) != 16 || len(ct)%16 != 0 || len(ct) == 0 {
		t.Fatalf("bad ciphertext: %v", err)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, ct)
	n := int(plain[len(plain)-1])
	if n < 1 || n > 16 {
		t.Fatalf("bad padding %d", n)
	}
	var m map[string]any
	if err := json.Unmarshal(plain[:len(plain)-n], &m); err != nil {
		t.Fatalf("plaintext %q: %v", plain, err)
	}
	return m
}

func TestUserInfo(t *testing.T) {
	e := newEnv(t)
	if r := e.post("/sandbox/userinfo", nil, map[string]string{"appid": app1, "openid": "oU"}); r.Status != http.StatusNotFound {
		t.Fatalf("userinfo before login: %d", r.Status)
	}
	if _, err := e.s.LoginAs(LoginRequest{AppID: app1, OpenID: "oU", UnionID: "oUnionU"}); err != nil {
		t.Fatal(err)
	}
	e.session(app1, secret1, "oU")
	key := e.s.SessionKey(app1, "oU")
	r := e.post("/sandbox/userinfo", nil, map[string]string{"appid": app1, "openid": "oU", "nickname": "Band & <Co>"})
	sum := sha1.Sum([]byte(r.str("raw_data") + key))
	if r.str("signature") != hex.EncodeToString(sum[:]) {
		t.Fatalf("signature mismatch: %s", r.Body)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.str("raw_data")), &raw); err != nil || raw["nickName"] != "Band & <Co>" {
		t.Fatalf("raw_data %q: %v", r.str("raw_data"), err)
	}
	m := decryptUserData(t, key, r.str("encrypted_data"), r.str("iv"))
	wm, _ := m["watermark"].(map[string]any)
	if m["openId"] != "oU" || m["unionId"] != "oUnionU" || m["nickName"] != "Band & <Co>" || m["avatarUrl"] != DefaultAvatarURL ||
		wm["appid"] != app1 || wm["timestamp"] != float64(e.clk.Now().Unix()) {
		t.Fatalf("decrypted %v", m)
	}
}

func TestPhoneEncrypted(t *testing.T) {
	e := newEnv(t)
	if r := e.post("/sandbox/phone-encrypted", nil, map[string]string{"appid": app1, "openid": "oE", "phone_number": "13800138000"}); r.Status != http.StatusNotFound {
		t.Fatalf("before login: %d", r.Status)
	}
	key := e.session(app1, secret1, "oE")
	r := e.post("/sandbox/phone-encrypted", nil, map[string]string{"appid": app1, "openid": "oE", "phone_number": "13800138000"})
	m := decryptUserData(t, key, r.str("encrypted_data"), r.str("iv"))
	wm, _ := m["watermark"].(map[string]any)
	if m["phoneNumber"] != "13800138000" || m["purePhoneNumber"] != "13800138000" || m["countryCode"] != "86" || wm["appid"] != app1 {
		t.Fatalf("decrypted %v", m)
	}
	if r := e.post("/sandbox/phone-encrypted", nil, map[string]string{"appid": app1, "openid": "oE", "phone_number": "x"}); r.Status != http.StatusBadRequest {
		t.Fatalf("bad number: %d", r.Status)
	}
}
