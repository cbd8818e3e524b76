package wxcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"testing"
)

// FuzzDecryptUserData feeds arbitrary strings to DecryptUserData, and also
// encrypts raw (a chosen, unpadded plaintext) under the official key so the
// padding and watermark checks see interesting input, not only noise. It
// must never panic, and a success must carry the asked-for watermark.
func FuzzDecryptUserData(f *testing.F) {
	f.Add(udKey, "CiyLU1Aw2KjvrjMdj8YKlg==", udIV, udAppID, []byte(`{"watermark":{"appid":"wx4f4bc4dec97d474b"}}`+"\x04\x04\x04\x04"))
	f.Fuzz(func(t *testing.T, key, data, iv, appID string, raw []byte) {
		checkUserDataResult(t, key, data, iv, appID)
		if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
			return
		}
		k, v := mustB64(t, udKey), mustB64(t, udIV)
		block, _ := aes.NewCipher(k)
		ct := make([]byte, len(raw))
		cipher.NewCBCEncrypter(block, v).CryptBlocks(ct, raw)
		got := checkUserDataResult(t, udKey, b64(ct), udIV, appID)
		if got != nil && !bytes.HasPrefix(raw, got) {
			t.Fatalf("plaintext %q is not a prefix of %q", got, raw)
		}
	})
}

func checkUserDataResult(t *testing.T, key, data, iv, appID string) []byte {
	got, err := DecryptUserData(key, data, iv, appID)
	if err != nil {
		if got != nil {
			t.Fatalf("plaintext returned with error %v", err)
		}
		return nil
	}
	if wm, err := ParseWatermark(got); err != nil || wm.AppID != appID {
		t.Fatalf("accepted plaintext %q with watermark %+v, %v", got, wm, err)
	}
	return got
}

// FuzzMsgCryptDecrypt feeds an arbitrary Encrypt string to Decrypt, and
// encrypts raw (an unpadded FullStr) so that msg_len, padding and appid
// parsing are explored directly. It must never panic, and anything accepted
// must re-encrypt to a value that decrypts to the same message.
func FuzzMsgCryptDecrypt(f *testing.F) {
	f.Add("ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==", padded(fullStr(5, "hello", mcAppID)))
	f.Fuzz(func(t *testing.T, encrypt string, raw []byte) {
		m := newTestMsgCrypt(t)
		checkMsgResult(t, m, encrypt)
		if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
			return
		}
		key := mustB64(t, mcKey+"=")
		block, _ := aes.NewCipher(key)
		ct := make([]byte, len(raw))
		cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(ct, raw)
		checkMsgResult(t, m, b64(ct))
	})
}

func checkMsgResult(t *testing.T, m *MsgCrypt, encrypt string) {
	got, err := m.Decrypt(encrypt)
	if err != nil {
		if got != nil {
			t.Fatalf("message returned with error %v", err)
		}
		if !errors.Is(err, ErrCiphertext) && !errors.Is(err, ErrPadding) && !errors.Is(err, ErrPayload) && !errors.Is(err, ErrAppIDMismatch) {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	again, err := m.Encrypt(got)
	if err != nil {
		t.Fatal(err)
	}
	back, err := m.Decrypt(again)
	if err != nil || !bytes.Equal(back, got) {
		t.Fatalf("re-encryption round trip: %q, %v", back, err)
	}
}
