package wxcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const (
	udKey   = "tiihtNczf5v6AKRyjwEUhQ=="
	udIV    = "r7BXXKkLb8qrSNn05n0qiA=="
	udAppID = "wx4f4bc4dec97d474b"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawCBC encrypts plain (a multiple of 16 bytes) without adding padding, so
// tests can forge any padding they like.
func rawCBC(tb testing.TB, key, iv, plain []byte) string {
	tb.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return b64(out)
}

// withPad returns plain followed by the given pad bytes.
func withPad(plain string, pad ...byte) []byte {
	return append([]byte(plain), pad...)
}

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func TestDecryptUserDataMalformed(t *testing.T) {
	key, iv := mustB64(t, udKey), mustB64(t, udIV)
	good := `{"a":1,"watermark":{"appid":"wx4f4bc4dec97d474b"}}` // 51 bytes
	enc := func(p []byte) string { return rawCBC(t, key, iv, p) }
	seal := func(p string) string {
		s, err := EncryptUserData(key, iv, []byte(p))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name          string
		key, data, iv string
		appID         string
		want          error
	}{
		{"ok", udKey, seal(good), udIV, udAppID, nil},
		{"empty key", "", seal(good), udIV, udAppID, ErrInvalidKey},
		{"bad base64 key", "tiihtNczf5v6AKRyjwEU!Q==", seal(good), udIV, udAppID, ErrInvalidKey},
		{"key 15 bytes", b64(key[:15]), seal(good), udIV, udAppID, ErrInvalidKey},
		{"key 24 bytes", b64(append(key, key[:8]...)), seal(good), udIV, udAppID, ErrInvalidKey},
		{"non-canonical key", "tiihtNczf5v6AKRyjwEUhR==", seal(good), udIV, udAppID, ErrInvalidKey},
		{"empty iv", udKey, seal(good), "", udAppID, ErrInvalidIV},
		{"iv 17 bytes", udKey, seal(good), b64(append(iv, 0)), udAppID, ErrInvalidIV},
		{"bad base64 iv", udKey, seal(good), "r7BXXKkLb8qrSNn05n0qiA=", udAppID, ErrInvalidIV},
		{"empty data", udKey, "", udIV, udAppID, ErrCiphertext},
		{"bad base64 data", udKey, "%%%%", udIV, udAppID, ErrCiphertext},
		{"url-safe base64 data", udKey, "-_-_", udIV, udAppID, ErrCiphertext},
		{"data 15 bytes", udKey, b64(make([]byte, 15)), udIV, udAppID, ErrCiphertext},
		{"data 17 bytes", udKey, b64(make([]byte, 17)), udIV, udAppID, ErrCiphertext},
		{"pad 0", udKey, enc(withPad(good[:48], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), udIV, udAppID, ErrPadding},
		{"pad 17", udKey, enc(withPad(good[:48], repeat(17, 16)...)), udIV, udAppID, ErrPadding},
		{"pad 255", udKey, enc(withPad(good[:48], repeat(255, 16)...)), udIV, udAppID, ErrPadding},
		{"pad bytes unequal", udKey, enc(withPad(good[:48]+"xxxxxxxxxxxxx", 3, 2, 3)), udIV, udAppID, ErrPadding},
		{"pad 16 over data", udKey, enc(withPad(good[:49], repeat(16, 15)...)), udIV, udAppID, ErrPadding},
		{"only padding", udKey, enc(repeat(16, 16)), udIV, udAppID, ErrPayload},
		{"not json", udKey, seal("hello"), udIV, udAppID, ErrPayload},
		{"json array", udKey, seal(`[1,2]`), udIV, udAppID, ErrPayload},
		{"json null", udKey, seal(`null`), udIV, udAppID, ErrPayload},
		{"trailing garbage", udKey, seal(good + "x"), udIV, udAppID, ErrPayload},
		{"no watermark", udKey, seal(`{"a":1}`), udIV, udAppID, ErrWatermark},
		{"watermark null", udKey, seal(`{"watermark":null}`), udIV, udAppID, ErrWatermark},
		{"appid not string", udKey, seal(`{"watermark":{"appid":1}}`), udIV, udAppID, ErrWatermark},
		{"appid key case", udKey, seal(`{"watermark":{"AppID":"wx4f4bc4dec97d474b"}}`), udIV, udAppID, ErrWatermark},
		{"watermark key case", udKey, seal(`{"Watermark":{"appid":"wx4f4bc4dec97d474b"}}`), udIV, udAppID, ErrWatermark},
		{"other appid", udKey, seal(good), udIV, "wx4f4bc4dec97d474c", ErrWatermark},
		{"appid prefix", udKey, seal(good), udIV, "wx4f4bc4dec97d474", ErrWatermark},
		{"empty appid both", udKey, seal(`{"watermark":{"appid":""}}`), udIV, "", ErrWatermark},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecryptUserData(tc.key, tc.data, tc.iv, tc.appID)
			if tc.want == nil {
				if err != nil || string(got) != good {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("got %q, %v; want error %v", got, err, tc.want)
			}
		})
	}
}

func TestEncryptUserDataBadArgs(t *testing.T) {
	k := make([]byte, 16)
	tests := []struct {
		name    string
		key, iv []byte
		want    error
	}{
		{"key 15", k[:15], k, ErrInvalidKey},
		{"key 32", make([]byte, 32), k, ErrInvalidKey},
		{"iv 15", k, k[:15], ErrInvalidIV},
		{"iv nil", k, nil, ErrInvalidIV},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncryptUserData(tc.key, tc.iv, []byte("{}")); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseWatermark(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Watermark
		err  error
	}{
		{"ok", `{"watermark":{"timestamp":1477314187,"appid":"wx1"}}`, Watermark{AppID: "wx1", Timestamp: 1477314187}, nil},
		{"missing", `{"a":1}`, Watermark{}, ErrWatermark},
		{"not json", `x`, Watermark{}, ErrPayload},
		{"trailing", `{"watermark":{}} x`, Watermark{}, ErrPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWatermark([]byte(tc.in))
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	_, err := DecryptUserData(udKey, "CiyLU1Aw2KjvrjMdj8YKlg==", udIV, udAppID)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, secret := range []string{udKey, udIV, "CiyLU1Aw"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q leaks %q", err, secret)
		}
	}
}
