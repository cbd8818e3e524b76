package wechatpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FuzzParseAuthorization checks that the header parser never panics and
// that whatever it accepts formats back to a header it parses the same.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",signature="c2ln"`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 signature="",serial_no="",timestamp="0",nonce_str="",mchid=""`)
	f.Add(`WECHATPAY2-SHA256-RSA2048 mchid="1",,`)
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			return
		}
		b, err := ParseAuthorization(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %+v, %v", h, b, err)
		}
	})
}

// FuzzDecodeNotification feeds bodies and headers to the whole
// notification path: it must never panic, and must accept nothing that was
// not signed by the platform key.
func FuzzDecodeNotification(f *testing.F) {
	vs, key, _ := loadVectors(f)
	for _, v := range vs.Vectors {
		if v.ID == "paysdk_notify_payscore" {
			var body string
			_ = jsonString(v.Inputs["body"], &body)
			f.Add([]byte(body), "1624523846", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz", "D7CE59D1F522D701", "x")
		}
	}
	f.Add([]byte(`{"id":"1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","nonce":"123456789012","ciphertext":"AAAA"}}`), "1", "n", "S", "WECHATPAY/SIGNTEST/x")
	f.Add([]byte(`{"id":`), "", "", "", "")
	ver := &Verifier{Now: func() time.Time { return time.Unix(1624523846, 0) }}
	ver.AddCertificate("D7CE59D1F522D701", &key.PublicKey, time.Unix(1<<40, 0))
	f.Fuzz(func(t *testing.T, body []byte, ts, nonce, serial, sig string) {
		if n, err := DecodeNotification(body); err == nil {
			_ = n.Open([]byte("testMchAPIv3Key0"))
		}
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", nonce)
		h.Set("Wechatpay-Serial", serial)
		h.Set("Wechatpay-Signature", sig)
		_, err := ParseNotification(context.Background(), ver, []byte("testMchAPIv3Key0"), h, body)
		if err == nil && !validSignature(&key.PublicKey, ts, nonce, body, sig) {
			t.Fatal("accepted a notification the platform key did not sign")
		}
		if err != nil && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func validSignature(pub *rsa.PublicKey, ts, nonce string, body []byte, sig string) bool {
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		return false
	}
	return VerifySignature(pub, ResponseMessage(ts, nonce, body), sig) == nil
}
