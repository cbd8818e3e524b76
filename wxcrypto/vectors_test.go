package wxcrypto

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"testing"
)

// vector is one entry of testdata/vectors.json (a copy of the project's
// shared, cross-checked WeChat vectors).
type vector struct {
	ID       string         `json:"id"`
	Inputs   map[string]any `json:"inputs"`
	Expected map[string]any `json:"expected"`
	Computed map[string]any `json:"computed"`
}

func loadVectors(tb testing.TB) map[string]vector {
	tb.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]vector, len(file.Vectors))
	for _, v := range file.Vectors {
		out[v.ID] = v
	}
	return out
}

func mustVector(tb testing.TB, id string) vector {
	tb.Helper()
	v, ok := loadVectors(tb)[id]
	if !ok {
		tb.Fatalf("vector %q missing from testdata/vectors.json", id)
	}
	return v
}

// str returns m[key] as a string, failing the test when it is not one.
func str(tb testing.TB, m map[string]any, key string) string {
	tb.Helper()
	s, ok := m[key].(string)
	if !ok {
		tb.Fatalf("vector field %q is %T, want string", key, m[key])
	}
	return s
}

func sub(tb testing.TB, m map[string]any, key string) map[string]any {
	tb.Helper()
	s, ok := m[key].(map[string]any)
	if !ok {
		tb.Fatalf("vector field %q is %T, want object", key, m[key])
	}
	return s
}

func TestVectorUserDataOfficial(t *testing.T) {
	v := mustVector(t, "userdata_decrypt_official")
	in := v.Inputs
	got, err := DecryptUserData(str(t, in, "sessionKey"), str(t, in, "encryptedData"), str(t, in, "iv"), str(t, in, "appId"))
	if err != nil {
		t.Fatalf("DecryptUserData: %v", err)
	}
	if want := str(t, v.Expected, "plaintext"); string(got) != want {
		t.Fatalf("plaintext\n got %s\nwant %s", got, want)
	}
	wm, err := ParseWatermark(got)
	if err != nil || wm.AppID != "wx4f4bc4dec97d474b" || wm.Timestamp != 1477314187 {
		t.Fatalf("ParseWatermark = %+v, %v", wm, err)
	}
	_, err = DecryptUserData(str(t, in, "sessionKey"), str(t, in, "encryptedData"), str(t, in, "iv"), "wx0000000000000000")
	if !errors.Is(err, ErrWatermark) {
		t.Fatalf("other appid: err = %v, want ErrWatermark", err)
	}
}

func TestVectorUserDataWxJavaRejected(t *testing.T) {
	v := mustVector(t, "userdata_decrypt_wxjava_testDecrypt")
	in := v.Inputs
	got, err := DecryptUserData(str(t, in, "sessionKey"), str(t, in, "encryptedData"), str(t, in, "iv"), "wx4f4bc4dec97d474b")
	if !errors.Is(err, ErrPadding) && !errors.Is(err, ErrWatermark) {
		t.Fatalf("DecryptUserData = %q, %v; want ErrPadding or ErrWatermark", got, err)
	}
	if got != nil {
		t.Fatalf("plaintext returned with error: %q", got)
	}
}

func TestVectorMsgCryptPush(t *testing.T) {
	vs := loadVectors(t)
	cases := []struct {
		id      string
		appID   string
		encrypt func(v vector) string
		msgSig  func(v vector) string
		msg     func(v vector) string
		sig     func(v vector) string // expected "signature" query param, "" if none
	}{
		{
			id: "msgcrypt_official_miniprogram_json_push", appID: "wxba5fad812f8e6fb9",
			encrypt: func(v vector) string { return str(t, sub(t, v.Inputs, "body"), "Encrypt") },
			msgSig:  func(v vector) string { return str(t, v.Expected, "msg_signature") },
			msg:     func(v vector) string { return str(t, v.Expected, "msg") },
			sig:     func(v vector) string { return str(t, v.Expected, "signature_query_param") },
		},
		{
			id: "msgcrypt_official_thirdparty_xml_push", appID: "wx134c8103faa5a59e",
			encrypt: func(v vector) string { return xmlEncrypt(t, str(t, v.Inputs, "body")) },
			msgSig:  func(v vector) string { return str(t, v.Expected, "msg_signature") },
			msg:     func(v vector) string { return str(t, v.Expected, "msg") },
			sig:     func(v vector) string { return str(t, v.Expected, "signature_query_param") },
		},
		{
			id: "msgcrypt_easywechat_decrypt", appID: "wxb11529c136998cb6",
			encrypt: func(v vector) string { return str(t, v.Inputs, "Encrypt") },
			msgSig:  func(v vector) string { return str(t, v.Expected, "msg_signature") },
			msg:     func(v vector) string { return str(t, v.Computed, "msg") },
			sig:     func(vector) string { return "" },
		},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			v, ok := vs[tc.id]
			if !ok {
				t.Fatalf("vector %q missing", tc.id)
			}
			mc, err := NewMsgCrypt(str(t, v.Inputs, "Token"), str(t, v.Inputs, "EncodingAESKey"), tc.appID)
			if err != nil {
				t.Fatal(err)
			}
			ts, nonce, enc := str(t, v.Inputs, "timestamp"), str(t, v.Inputs, "nonce"), tc.encrypt(v)
			if got, want := mc.MsgSignature(ts, nonce, enc), tc.msgSig(v); got != want {
				t.Errorf("MsgSignature = %s, want %s", got, want)
			}
			if want := tc.sig(v); want != "" && !mc.VerifySignature(ts, nonce, want) {
				t.Errorf("VerifySignature(%s) = false", want)
			}
			got, err := mc.VerifyAndDecrypt(ts, nonce, enc, tc.msgSig(v))
			if err != nil {
				t.Fatalf("VerifyAndDecrypt: %v", err)
			}
			if want := tc.msg(v); string(got) != want {
				t.Fatalf("msg\n got %q\nwant %q", got, want)
			}
			other, _ := NewMsgCrypt(str(t, v.Inputs, "Token"), str(t, v.Inputs, "EncodingAESKey"), "wx0000000000000000")
			if _, err := other.Decrypt(enc); !errors.Is(err, ErrAppIDMismatch) {
				t.Fatalf("Decrypt with another appid: err = %v, want ErrAppIDMismatch", err)
			}
		})
	}
}

// xmlEncrypt extracts the Encrypt CDATA of an XML envelope.
func xmlEncrypt(tb testing.TB, body string) string {
	tb.Helper()
	var env struct {
		Encrypt string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal([]byte(body), &env); err != nil || env.Encrypt == "" {
		tb.Fatalf("xml envelope: %v", err)
	}
	return env.Encrypt
}

func TestVectorMsgCryptReply(t *testing.T) {
	vs := loadVectors(t)
	for _, id := range []string{"msgcrypt_official_miniprogram_json_reply", "msgcrypt_official_thirdparty_xml_reply"} {
		t.Run(id, func(t *testing.T) {
			v := vs[id]
			in := v.Inputs
			mc, err := NewMsgCrypt(str(t, in, "Token"), str(t, in, "EncodingAESKey"), str(t, in, "AppID"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := mc.EncryptReplyWithRandom([]byte(str(t, in, "random")), []byte(str(t, in, "msg")), str(t, in, "TimeStamp"), str(t, in, "Nonce"))
			if err != nil {
				t.Fatal(err)
			}
			want := Reply{
				Encrypt: str(t, v.Expected, "Encrypt"), MsgSignature: str(t, v.Expected, "MsgSignature"),
				TimeStamp: str(t, in, "TimeStamp"), Nonce: str(t, in, "Nonce"),
			}
			if r != want {
				t.Fatalf("reply\n got %+v\nwant %+v", r, want)
			}
			got, err := mc.VerifyAndDecrypt(r.TimeStamp, r.Nonce, r.Encrypt, r.MsgSignature)
			if err != nil || string(got) != str(t, in, "msg") {
				t.Fatalf("round trip = %q, %v", got, err)
			}
		})
	}
}

func TestVectorMsgCryptWxJavaEncrypt(t *testing.T) {
	v := mustVector(t, "msgcrypt_wxjava_encrypt")
	in := v.Inputs
	mc, err := NewMsgCrypt(str(t, in, "Token"), str(t, in, "EncodingAESKey"), str(t, in, "AppID"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2"} {
		msg := str(t, in, "msg"+n)
		got, err := mc.EncryptWithRandom([]byte(str(t, in, "random")), []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		if want := str(t, v.Expected, "Encrypt"+n); got != want {
			t.Errorf("Encrypt%s\n got %s\nwant %s", n, got, want)
		}
		back, err := mc.Decrypt(got)
		if err != nil || string(back) != msg {
			t.Errorf("Decrypt(Encrypt%s) = %q, %v", n, back, err)
		}
	}
}

func TestVectorMsgCryptWeCom(t *testing.T) {
	v := mustVector(t, "msgcrypt_powerwechat_wecom")
	in := v.Inputs
	const receiveID = "wwedab3d5fc43636d8"
	mc, err := NewMsgCrypt(str(t, in, "Token"), str(t, in, "EncodingAESKey"), receiveID)
	if err != nil {
		t.Fatal(err)
	}
	push := sub(t, in, "push")
	got, err := mc.VerifyAndDecrypt(str(t, push, "timestamp"), str(t, push, "nonce"), str(t, push, "Encrypt"), str(t, push, "msg_signature"))
	if err != nil || string(got) != str(t, v.Expected, "push_msg") {
		t.Fatalf("push = %q, %v", got, err)
	}
	vu := sub(t, in, "verify_url")
	echo, err := mc.VerifyAndDecrypt(str(t, vu, "timestamp"), str(t, vu, "nonce"), str(t, vu, "echostr"), str(t, vu, "msg_signature"))
	if err != nil || string(echo) != str(t, v.Expected, "verify_url_echo") {
		t.Fatalf("verify url = %q, %v", echo, err)
	}
	// PowerWeChat's own test uses the agent id "1000005", which is not the
	// receive id in the plaintext: a checking decryptor must refuse it.
	wrong, err := NewMsgCrypt(str(t, in, "Token"), str(t, in, "EncodingAESKey"), "1000005")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Decrypt(str(t, push, "Encrypt")); !errors.Is(err, ErrAppIDMismatch) {
		t.Fatalf("Decrypt with 1000005: err = %v, want ErrAppIDMismatch", err)
	}
	msg, id, err := wrong.DecryptAny(str(t, push, "Encrypt"))
	if err != nil || id != receiveID || string(msg) != str(t, v.Expected, "push_msg") {
		t.Fatalf("DecryptAny = %q, %q, %v", msg, id, err)
	}
}

func TestVectorSignatures(t *testing.T) {
	vs := loadVectors(t)
	url := vs["url_verification_official"]
	push := vs["push_plaintext_signature_official"]
	sha := vs["sha1_sorted_helpers_sdk"]
	raw := vs["rawdata_signature_official"]
	login := vs["login_state_signature_official"]
	check := vs["checksession_signature_derived"]
	tests := []struct {
		name, got, want string
	}{
		{"url_verification", Signature(str(t, url.Inputs, "Token"), str(t, url.Inputs, "timestamp"), str(t, url.Inputs, "nonce")), str(t, url.Expected, "signature")},
		{"push_plaintext", Signature(str(t, push.Inputs, "Token"), str(t, push.Inputs, "timestamp"), str(t, push.Inputs, "nonce")), str(t, push.Expected, "signature")},
		{"sha1_wxjava", SortedSHA1("345", "123"), str(t, sha.Expected, "wxjava")},
		{"sha1_silenceper", SortedSHA1("c", "a", "b"), str(t, sha.Expected, "silenceper")},
		{"rawdata", RawDataSignature(str(t, raw.Inputs, "rawData"), str(t, raw.Inputs, "session_key")), str(t, raw.Expected, "signature")},
		{"login_state", LoginStateSignature(str(t, login.Inputs, "session_key"), []byte(str(t, login.Inputs, "post_body"))), str(t, login.Expected, "signature")},
		{"checksession", CheckSessionSignature(str(t, check.Inputs, "session_key")), str(t, check.Computed, "signature")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}
