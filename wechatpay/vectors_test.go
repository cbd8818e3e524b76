package wechatpay

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// vectors is testdata/pay-vectors.json, a copy of the project's shared
// WeChat Pay vectors (../shared/wechat/pay-vectors.json).
type vectors struct {
	TestKeys struct {
		Key struct {
			PEM string `json:"pkcs8_pem"`
		} `json:"wechatpay_go_test_rsa_2048"`
		Certs map[string]string `json:"-"`
	} `json:"test_keys"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	ID       string                     `json:"id"`
	Inputs   map[string]json.RawMessage `json:"inputs"`
	Expected map[string]json.RawMessage `json:"expected"`
	Computed map[string]json.RawMessage `json:"computed"`
}

func (v vector) in(t *testing.T, k string) string   { return str(t, v.Inputs, k) }
func (v vector) comp(t *testing.T, k string) string { return str(t, v.Computed, k) }

func str(t *testing.T, m map[string]json.RawMessage, k string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m[k], &s); err != nil {
		t.Fatalf("field %s: %v", k, err)
	}
	return s
}

func loadVectors(t testing.TB) (vs vectors, key *rsa.PrivateKey, certs map[string]string) {
	raw, err := os.ReadFile("testdata/pay-vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	var all struct {
		TestKeys map[string]json.RawMessage `json:"test_keys"`
	}
	_ = json.Unmarshal(raw, &all)
	certs = map[string]string{}
	for k, v := range all.TestKeys {
		if p, ok := strings.CutPrefix(k, "cert_"); ok {
			var s string
			_ = json.Unmarshal(v, &s)
			certs[strings.TrimSuffix(p, "_pem")] = s
		}
		var nested map[string]json.RawMessage
		if json.Unmarshal(v, &nested) == nil {
			for k2, v2 := range nested {
				if p, ok := strings.CutPrefix(k2, "cert_"); ok {
					var s string
					_ = json.Unmarshal(v2, &s)
					certs[strings.TrimSuffix(p, "_pem")] = s
				}
			}
		}
	}
	key, err = ParsePrivateKey([]byte(vs.TestKeys.Key.PEM))
	if err != nil {
		t.Fatal(err)
	}
	return vs, key, certs
}

// TestVectors checks every vector of pay-vectors.json; a vector this test
// does not know fails it, so none can be skipped silently.
func TestVectors(t *testing.T) {
	vs, key, certs := loadVectors(t)
	if certs["D7CE59D1F522D701"] == "" {
		t.Fatal("test certificate D7CE59D1F522D701 not found")
	}
	checks := map[string]func(t *testing.T, v vector){
		"paysdk_sign_source": func(t *testing.T, v vector) {
			sig := mustSign(t, key, []byte(v.in(t, "message")))
			if want := str(t, v.Expected, "signature"); sig != want {
				t.Fatalf("signature = %s, want %s", sig, want)
			}
			// F5765756002FDD77 and D7CE59D1F522D701 carry the same key;
			// the vectors file holds the PEM of the latter.
			cert, _, err := ParseCertificate([]byte(certs["D7CE59D1F522D701"]))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifySignature(cert.PublicKey.(*rsa.PublicKey), []byte("source"), sig); err != nil {
				t.Fatal(err)
			}
		},
		"paysdk_aesgcm_utils": func(t *testing.T, v vector) {
			plain, err := DecryptAEAD([]byte(v.in(t, "key")), v.in(t, "nonce"), v.in(t, "associated_data"), v.in(t, "ciphertext"))
			if err != nil || string(plain) != str(t, v.Expected, "plaintext") {
				t.Fatalf("plaintext = %q, %v", plain, err)
			}
		},
		"paysdk_notify_payscore":       func(t *testing.T, v vector) { checkNotifyVector(t, v, certs) },
		"paysdk_certificates_download": func(t *testing.T, v vector) { checkCertificatesVector(t, v, certs) },
		"paysdk_oaep_sensitive_field": func(t *testing.T, v vector) {
			plain, err := DecryptSensitive(key, v.in(t, "ciphertext"))
			if err != nil || string(plain) != str(t, v.Expected, "plaintext") {
				t.Fatalf("plaintext = %q, %v", plain, err)
			}
		},
		"self_paysign": func(t *testing.T, v vector) {
			p, err := SignPayment(key, v.in(t, "appId"), strings.TrimPrefix(v.in(t, "package"), "prepay_id="), 1414561699, v.in(t, "nonceStr"))
			if err != nil {
				t.Fatal(err)
			}
			if p.TimeStamp != v.in(t, "timeStamp") || p.SignType != "RSA" || p.Package != v.in(t, "package") {
				t.Fatalf("params = %+v", p)
			}
			if string(PayMessage(v.in(t, "appId"), p.TimeStamp, p.NonceStr, p.Package)) != v.comp(t, "message") {
				t.Fatal("message differs")
			}
			if p.PaySign != v.comp(t, "paySign") {
				t.Fatalf("paySign = %s", p.PaySign)
			}
		},
		"self_request_authorization_post": func(t *testing.T, v vector) {
			msg := RequestMessage("POST", v.in(t, "url"), 1554208460, v.in(t, "nonce_str"), []byte(v.in(t, "body")))
			if string(msg) != v.comp(t, "message") {
				t.Fatalf("message = %q", msg)
			}
			a := Authorization{MchID: v.in(t, "mchid"), NonceStr: v.in(t, "nonce_str"), Timestamp: 1554208460, SerialNo: v.in(t, "serial_no"), Signature: mustSign(t, key, msg)}
			if a.String() != v.comp(t, "authorization") {
				t.Fatalf("authorization = %s", a)
			}
			back, err := ParseAuthorization(a.String())
			if err != nil || back != a {
				t.Fatalf("ParseAuthorization = %+v, %v", back, err)
			}
		},
		"self_request_sign_get_with_query": func(t *testing.T, v vector) {
			msg := RequestMessage("GET", "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", nil)
			if string(msg) != v.comp(t, "message") || mustSign(t, key, msg) != v.comp(t, "signature") {
				t.Fatalf("message %q or signature differs", msg)
			}
		},
		"self_response_204_empty_body": func(t *testing.T, v vector) {
			msg := ResponseMessage("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", nil)
			if string(msg) != v.comp(t, "message") {
				t.Fatalf("message = %q", msg)
			}
			if err := VerifySignature(&key.PublicKey, msg, v.comp(t, "signature")); err != nil {
				t.Fatal(err)
			}
		},
		"self_aes256gcm_transaction": func(t *testing.T, v vector) {
			k := []byte(v.in(t, "key"))
			if err := CheckAPIv3Key(k); err != nil {
				t.Fatal(err)
			}
			plain, err := DecryptAEAD(k, v.in(t, "nonce"), v.in(t, "associated_data"), v.comp(t, "ciphertext"))
			if err != nil || string(plain) != v.in(t, "plaintext") {
				t.Fatalf("plaintext = %q, %v", plain, err)
			}
			if _, err := DecryptAEAD(k, v.in(t, "nonce"), "", v.comp(t, "ciphertext")); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("empty associated data: %v, want ErrDecrypt", err)
			}
		},
	}
	for _, v := range vs.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			check, ok := checks[v.ID]
			if !ok {
				t.Fatalf("no check for vector %s", v.ID)
			}
			check(t, v)
		})
	}
}

func mustSign(t *testing.T, key *rsa.PrivateKey, msg []byte) string {
	t.Helper()
	sig, err := Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func checkNotifyVector(t *testing.T, v vector, certs map[string]string) {
	var headers map[string]string
	_ = json.Unmarshal(v.Inputs["headers"], &headers)
	h := http.Header{}
	for k, val := range headers {
		h.Set(k, val)
	}
	body := []byte(v.in(t, "body"))
	cert, serial, err := ParseCertificate([]byte(certs["D7CE59D1F522D701"]))
	if err != nil {
		t.Fatal(err)
	}
	ver := &Verifier{Now: func() time.Time { return time.Unix(1624523846, 0) }}
	ver.AddCertificate(serial, cert.PublicKey.(*rsa.PublicKey), cert.NotAfter)
	apiKey := []byte(v.in(t, "apiv3_key"))
	n, err := ParseNotification(context.Background(), ver, apiKey, h, body)
	if err != nil {
		t.Fatal(err)
	}
	if string(n.Plaintext) != str(t, v.Expected, "plaintext") {
		t.Fatalf("plaintext = %s", n.Plaintext)
	}
	tampered := append([]byte(nil), body...)
	tampered[10] ^= 1
	if _, err := ParseNotification(context.Background(), ver, apiKey, h, tampered); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered body: %v", err)
	}
	probe := h.Clone()
	probe.Set("Wechatpay-Signature", "WECHATPAY/SIGNTEST/"+h.Get("Wechatpay-Signature"))
	if _, err := ParseNotification(context.Background(), ver, apiKey, probe, body); !errors.Is(err, ErrSignature) {
		t.Fatalf("probe: %v", err)
	}
	ver.Now = func() time.Time { return time.Unix(1624523846+300, 0) }
	if _, err := ParseNotification(context.Background(), ver, apiKey, h, body); !errors.Is(err, ErrSignature) {
		t.Fatalf("5 minutes late: %v", err)
	}
}

func checkCertificatesVector(t *testing.T, v vector, certs map[string]string) {
	var ans certificatesAnswer
	if err := json.Unmarshal([]byte(v.in(t, "response_body")), &ans); err != nil {
		t.Fatal(err)
	}
	got, err := decodeCertificates([]byte(v.in(t, "apiv3_key")), ans)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SerialNo != str(t, v.Expected, "serial_no") || string(got[0].PEM) != certs["D7CE59D1F522D701"] {
		t.Fatalf("certificates = %+v", got)
	}
}
