package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func pemKey(t *testing.T, bits int, pkcs8 bool) string {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs8 {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestPayConfigErrorsNameTheKey: a bad pay block is a configuration
// error (exit 2) naming the key, never echoing the secret.
func TestPayConfigErrorsNameTheKey(t *testing.T) {
	good := pemKey(t, 2048, true)
	keyFile := writeFile(t, "key.pem", good)
	pkcs1 := writeFile(t, "pkcs1.pem", pemKey(t, 2048, false))
	small := writeFile(t, "small.pem", pemKey(t, 1024, true))
	app := func(pay string) string {
		return "apps:\n  - appid: wxa\n    secret: s\n    pay:\n" + pay
	}
	full := "      mchid: \"1900000109\"\n      serial_no: S1\n      apiv3_key: 0123456789abcdef0123456789abcdef\n      notify_url: https://x.test/wx/pay/notify/wxa\n"
	tests := []struct{ name, yaml, wantKey string }{
		{"pkcs1 key", app(full + "      private_key_file: " + pkcs1 + "\n"), "apps[0].pay.private_key"},
		{"rsa 1024", app(full + "      private_key_file: " + small + "\n"), "apps[0].pay.private_key"},
		{"garbage key", app(full + "      private_key: nope\n"), "apps[0].pay.private_key"},
		{"missing key", app(full), "apps[0].pay.private_key"},
		{"short apiv3 key", app(strings.Replace(full, "0123456789abcdef0123456789abcdef", "0123456789abcdef", 1) + "      private_key_file: " + keyFile + "\n"), "apps[0].pay.apiv3_key"},
		{"notify with query", app(strings.Replace(full, "notify/wxa", "notify/wxa?x=1", 1) + "      private_key_file: " + keyFile + "\n"), "apps[0].pay.notify_url"},
		{"notify over http", app(strings.Replace(full, "https://", "http://", 1) + "      private_key_file: " + keyFile + "\n"), "apps[0].pay.notify_url"},
		{"no mchid", app("      apiv3_key: x\n"), "apps[0].pay.mchid"},
		{"public key id alone", app(full + "      private_key_file: " + keyFile + "\n      public_key_id: PUB_KEY_ID_1\n"), "apps[0].pay.public_key_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tt.yaml), nil)
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.Key != tt.wantKey {
				t.Fatalf("err = %v, want a config error naming %s", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error echoes a secret: %v", err)
			}
		})
	}
	cfg, err := Load(writeFile(t, "c.yaml", app(full+"      private_key_file: "+keyFile+"\n")), nil)
	if err != nil || !cfg.Apps[0].Pay.Configured() || cfg.Apps[0].Pay.PrivateKey != strings.TrimSpace(good) {
		t.Fatalf("good pay block: %v", err)
	}
}
