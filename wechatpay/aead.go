package wechatpay

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
)

// AlgorithmAEAD is the only resource algorithm this package opens.
const AlgorithmAEAD = "AEAD_AES_256_GCM"

// ErrDecrypt is wrapped by every decryption failure.
var ErrDecrypt = errors.New("wechatpay: decryption failed")

// CheckAPIv3Key returns an error unless key is exactly 32 bytes: AES-256.
// (Go's AES also takes 16 and 24 bytes, which WeChat Pay never issues.)
func CheckAPIv3Key(key []byte) error {
	if len(key) != 32 {
		return fmt.Errorf("wechatpay: the APIv3 key must be 32 bytes, not %d", len(key))
	}
	return nil
}

// DecryptAEAD opens base64(ciphertext‖tag) with AES-GCM: key is used as
// its bytes (the APIv3 key, not decoded), nonce (12 characters) and
// associatedData as their ASCII bytes. It accepts any AES key size so that
// the official 16-byte test vectors can be checked; the Client insists on
// 32 bytes. Failures wrap ErrDecrypt.
func DecryptAEAD(key []byte, nonce, associatedData, ciphertext string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrDecrypt)
	}
	gcm, err := newGCM(key, nonce)
	if err != nil {
		return nil, err
	}
	if len(ct) < gcm.Overhead() {
		return nil, fmt.Errorf("%w: ciphertext is shorter than the tag", ErrDecrypt)
	}
	plain, err := gcm.Open(nil, []byte(nonce), ct, []byte(associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed (wrong APIv3 key or altered resource)", ErrDecrypt)
	}
	return plain, nil
}

// EncryptAEAD is the inverse of DecryptAEAD, for fakes and tests.
func EncryptAEAD(key []byte, nonce, associatedData string, plaintext []byte) (string, error) {
	gcm, err := newGCM(key, nonce)
	if err != nil {
		return "", err
	}
	ct := gcm.Seal(nil, []byte(nonce), plaintext, []byte(associatedData))
	return base64.StdEncoding.EncodeToString(ct), nil
}

func newGCM(key []byte, nonce string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	if len(nonce) != gcm.NonceSize() {
		return nil, fmt.Errorf("%w: nonce must be %d bytes", ErrDecrypt, gcm.NonceSize())
	}
	return gcm, nil
}

// EncryptSensitive encrypts a sensitive request field (a name, an ID
// number) to WeChat Pay with RSA-OAEP (SHA-1, MGF1-SHA-1), base64; the
// request must then carry the key's serial in Wechatpay-Serial.
func EncryptSensitive(pub *rsa.PublicKey, plaintext []byte) (string, error) {
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plaintext, nil)
	if err != nil {
		return "", fmt.Errorf("wechatpay: encrypt: %w", err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// DecryptSensitive opens a sensitive field WeChat Pay encrypted to the
// merchant key with RSA-OAEP (SHA-1). Failures wrap ErrDecrypt.
func DecryptSensitive(key *rsa.PrivateKey, ciphertext string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext is not base64", ErrDecrypt)
	}
	plain, err := rsa.DecryptOAEP(sha1.New(), nil, key, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: RSA-OAEP", ErrDecrypt)
	}
	return plain, nil
}
