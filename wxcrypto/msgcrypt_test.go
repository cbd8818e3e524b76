package wxcrypto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

const (
	mcToken = "AAAAA"
	mcKey   = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	mcAppID = "wxba5fad812f8e6fb9"
)

func newTestMsgCrypt(tb testing.TB) *MsgCrypt {
	tb.Helper()
	m, err := NewMsgCrypt(mcToken, mcKey, mcAppID)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fullStr builds random || uint32be(msgLen) || msg || appid without padding.
func fullStr(msgLen uint32, msg, appID string) []byte {
	b := []byte("0123456789abcdef")
	b = binary.BigEndian.AppendUint32(b, msgLen)
	return append(append(b, msg...), appID...)
}

// padded applies WXBizMsgCrypt's PKCS#7 padding (K = 32).
func padded(b []byte) []byte { return pkcs7Pad(b, msgBlock) }

func TestNewMsgCrypt(t *testing.T) {
	tests := []struct {
		name, token, key, appID string
		want                    error
	}{
		{"ok", mcToken, mcKey, mcAppID, nil},
		{"ok non-zero trailing bits", "pamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6", nil},
		{"empty token", "", mcKey, mcAppID, ErrInvalidConfig},
		{"empty appid", mcToken, mcKey, "", ErrInvalidConfig},
		{"key 42 chars", mcToken, mcKey[:42], mcAppID, ErrInvalidKey},
		{"key 44 chars", mcToken, mcKey + "A", mcAppID, ErrInvalidKey},
		{"key with =", mcToken, mcKey[:42] + "=", mcAppID, ErrInvalidKey},
		{"key bad char", mcToken, "!" + mcKey[1:], mcAppID, ErrInvalidKey},
		{"key url-safe char", mcToken, "-" + mcKey[1:], mcAppID, ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMsgCrypt(tc.token, tc.key, tc.appID)
			if !errors.Is(err, tc.want) || (err == nil) != (m != nil) {
				t.Fatalf("got %v, %v; want %v", m, err, tc.want)
			}
		})
	}
}

func TestMsgCryptDecryptMalformed(t *testing.T) {
	m := newTestMsgCrypt(t)
	key := mustB64(t, mcKey+"=")
	enc := func(p []byte) string { return rawCBC(t, key, key[:16], p) }
	okFull := fullStr(5, "hello", mcAppID) // 43 bytes
	tests := []struct {
		name, in string
		want     error
	}{
		{"ok", enc(padded(okFull)), nil},
		{"empty", "", ErrCiphertext},
		{"bad base64", "!!!!", ErrCiphertext},
		{"unpadded base64", strings.TrimRight(enc(padded(okFull)), "="), ErrCiphertext},
		{"16 bytes", b64(make([]byte, 16)), ErrCiphertext},
		{"40 bytes", b64(make([]byte, 40)), ErrCiphertext},
		{"pad 0", enc(append(okFull[:43:43], repeat(0, 21)...)), ErrPadding},
		{"pad 33", enc(append(okFull[:31:31], repeat(33, 33)...)), ErrPadding},
		{"pad 255", enc(append(okFull[:32:32], repeat(255, 32)...)), ErrPadding},
		{"pad unequal", enc(append(okFull[:43:43], append(repeat(21, 20), 20)...)), ErrPadding},
		// A sender padding to the AES block (48 bytes here) still passes
		// the K=32 check, as the reference implementation accepts it.
		{"ok padded to 16", enc(append(okFull[:43:43], repeat(5, 5)...)), nil},
		{"zero bytes before padding", enc(append(okFull[:43:43], append(repeat(0, 5), repeat(16, 16)...)...)), ErrAppIDMismatch},
		{"only padding", enc(repeat(32, 32)), ErrPayload},
		{"header cut", enc(padded(okFull[:19])), ErrPayload},
		{"msg_len overflow", enc(padded(fullStr(0xFFFFFFFF, "hello", mcAppID))), ErrPayload},
		{"msg_len one too many", enc(padded(fullStr(uint32(5+len(mcAppID)+1), "hello", mcAppID))), ErrPayload},
		{"msg_len eats appid", enc(padded(fullStr(uint32(5+len(mcAppID)), "hello", mcAppID))), ErrAppIDMismatch},
		{"short appid", enc(padded(fullStr(5, "hello", mcAppID[:17]))), ErrAppIDMismatch},
		{"long appid", enc(padded(fullStr(5, "hello", mcAppID+"x"))), ErrAppIDMismatch},
		{"empty appid", enc(padded(fullStr(5, "hello", ""))), ErrAppIDMismatch},
		{"other appid", enc(padded(fullStr(5, "hello", "wx0000000000000000"))), ErrAppIDMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Decrypt(tc.in)
			if tc.want == nil {
				if err != nil || string(got) != "hello" {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("got %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestMsgCryptVerifyAndDecrypt(t *testing.T) {
	m := newTestMsgCrypt(t)
	r, err := m.EncryptReply([]byte("hi"), "1713424427", "415670741")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ts, nonce, enc, sig string
		want                      error
	}{
		{"ok", r.TimeStamp, r.Nonce, r.Encrypt, r.MsgSignature, nil},
		{"upper-case signature", r.TimeStamp, r.Nonce, r.Encrypt, strings.ToUpper(r.MsgSignature), nil},
		{"other timestamp", "1713424428", r.Nonce, r.Encrypt, r.MsgSignature, ErrSignature},
		{"other nonce", r.TimeStamp, "1", r.Encrypt, r.MsgSignature, ErrSignature},
		{"empty signature", r.TimeStamp, r.Nonce, r.Encrypt, "", ErrSignature},
		{"query signature instead", r.TimeStamp, r.Nonce, r.Encrypt, m.Signature(r.TimeStamp, r.Nonce), ErrSignature},
		{"signed garbage", r.TimeStamp, r.Nonce, "!!", m.MsgSignature(r.TimeStamp, r.Nonce, "!!"), ErrCiphertext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.VerifyAndDecrypt(tc.ts, tc.nonce, tc.enc, tc.sig)
			if tc.want == nil {
				if err != nil || string(got) != "hi" {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMsgCryptEncryptBadRandom(t *testing.T) {
	m := newTestMsgCrypt(t)
	for _, n := range []int{0, 15, 17} {
		if _, err := m.EncryptWithRandom(make([]byte, n), []byte("x")); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("random of %d bytes: err = %v, want ErrInvalidConfig", n, err)
		}
		if _, err := m.EncryptReplyWithRandom(make([]byte, n), []byte("x"), "1", "2"); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("reply, random of %d bytes: err = %v, want ErrInvalidConfig", n, err)
		}
	}
}

func TestMsgCryptEncryptIsRandomised(t *testing.T) {
	m := newTestMsgCrypt(t)
	a, errA := m.Encrypt([]byte("same"))
	b, errB := m.Encrypt([]byte("same"))
	if errA != nil || errB != nil || a == b {
		t.Fatalf("two encryptions: %q, %v / %q, %v", a, errA, b, errB)
	}
}

func TestMsgCryptConcurrent(t *testing.T) {
	m := newTestMsgCrypt(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				msg := fmt.Sprintf("g%d-i%d", g, i)
				r, err := m.EncryptReply([]byte(msg), "1", "2")
				if err != nil {
					errs <- err
					return
				}
				got, err := m.VerifyAndDecrypt(r.TimeStamp, r.Nonce, r.Encrypt, r.MsgSignature)
				if err != nil || string(got) != msg {
					errs <- fmt.Errorf("round trip %q: got %q, %v", msg, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMsgCryptLogValueRedacts(t *testing.T) {
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "crypt", newTestMsgCrypt(t))
	line := sb.String()
	if strings.Contains(line, mcKey) || !strings.Contains(line, "crypt.token=REDACTED") || !strings.Contains(line, mcAppID) {
		t.Fatalf("log line %q", line)
	}
	if m := newTestMsgCrypt(t); m.AppID() != mcAppID {
		t.Fatalf("AppID() = %q", m.AppID())
	}
}

func TestPKCS7(t *testing.T) {
	for _, k := range []int{16, 32} {
		for n := 0; n <= 3*k; n++ {
			p := pkcs7Pad(repeat('x', n), k)
			if len(p)%k != 0 || len(p) <= n {
				t.Fatalf("k=%d n=%d: padded length %d", k, n, len(p))
			}
			u, ok := pkcs7Unpad(p, k)
			if !ok || len(u) != n {
				t.Fatalf("k=%d n=%d: unpad = %d, %v", k, n, len(u), ok)
			}
		}
		if _, ok := pkcs7Unpad(repeat(1, k-1), k); ok {
			t.Fatalf("k=%d: short input accepted", k)
		}
	}
}
