package wxcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// userDataBlock is the PKCS#7 block size of the legacy open-data cipher
// (AES-128-CBC, padding to the AES block).
const userDataBlock = aes.BlockSize

// strictB64 rejects non-canonical base64 (non-zero trailing bits), so one
// encryptedData has exactly one spelling.
var strictB64 = base64.StdEncoding.Strict()

// DecryptUserData decrypts the legacy encryptedData of wx.getUserInfo,
// getPhoneNumber (old button flow) and similar APIs (protocol §c.7).
//
// sessionKey, encryptedData and iv are the base64 strings as WeChat gives
// them. The key and iv must decode to exactly 16 bytes (ErrInvalidKey,
// ErrInvalidIV); the ciphertext must be a non-empty multiple of 16 bytes
// (ErrCiphertext); the PKCS#7 padding is checked strictly (ErrPadding); the
// plaintext must be a JSON object (ErrPayload) whose "watermark"."appid" is
// exactly appID (ErrWatermark). It returns the plaintext JSON on success.
// It never panics and is safe for concurrent use.
func DecryptUserData(sessionKey, encryptedData, iv, appID string) ([]byte, error) {
	key, err := decode16(sessionKey, ErrInvalidKey)
	if err != nil {
		return nil, err
	}
	ivb, err := decode16(iv, ErrInvalidIV)
	if err != nil {
		return nil, err
	}
	ct, err := strictB64.DecodeString(encryptedData)
	if err != nil || len(ct) == 0 || len(ct)%userDataBlock != 0 {
		return nil, fmt.Errorf("decrypt user data: %w", ErrCiphertext)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("decrypt user data: %w", ErrInvalidKey)
	}
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(ct, ct)
	plain, ok := pkcs7Unpad(ct, userDataBlock)
	if !ok {
		return nil, fmt.Errorf("decrypt user data: %w", ErrPadding)
	}
	if err := checkWatermark(plain, appID); err != nil {
		return nil, fmt.Errorf("decrypt user data: %w", err)
	}
	return plain, nil
}

// EncryptUserData is the inverse of DecryptUserData, for the sandbox and for
// tests: it encrypts plaintext with AES-128-CBC under the raw 16-byte key and
// iv, pads it with PKCS#7 and returns standard base64. It does not look at
// or add a watermark. It returns ErrInvalidKey or ErrInvalidIV when key or iv
// is not 16 bytes long.
func EncryptUserData(key, iv, plaintext []byte) (string, error) {
	if len(key) != 16 {
		return "", fmt.Errorf("encrypt user data: key is %d bytes: %w", len(key), ErrInvalidKey)
	}
	if len(iv) != aes.BlockSize {
		return "", fmt.Errorf("encrypt user data: iv is %d bytes: %w", len(iv), ErrInvalidIV)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("encrypt user data: %w", ErrInvalidKey)
	}
	buf := pkcs7Pad(plaintext, userDataBlock)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// decode16 decodes canonical base64 that must yield exactly 16 bytes; on
// failure it returns sentinel wrapped.
func decode16(s string, sentinel error) ([]byte, error) {
	b, err := strictB64.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("decrypt user data: %w", sentinel)
	}
	return b, nil
}

// checkWatermark requires plain to be a JSON object with
// "watermark":{"appid":appID}. Keys are matched exactly: encoding/json's
// case-insensitive field matching would accept "AppID" or "WATERMARK", which
// gives a bit-flipping attacker on the last CBC block room to play.
func checkWatermark(plain []byte, appID string) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(plain, &top); err != nil || top == nil {
		return ErrPayload
	}
	var wm map[string]json.RawMessage
	if err := json.Unmarshal(top["watermark"], &wm); err != nil || wm == nil {
		return ErrWatermark
	}
	var got string
	if err := json.Unmarshal(wm["appid"], &got); err != nil {
		return ErrWatermark
	}
	return CheckWatermark(Watermark{AppID: got}, appID)
}

// Watermark is the "watermark" object WeChat puts in every decrypted user
// data payload and in the phone_info of getuserphonenumber. Timestamp is the Unix time at which WeChat produced the data;
// callers may use it for a freshness check.
type Watermark struct {
	AppID     string `json:"appid"`
	Timestamp int64  `json:"timestamp"`
}

// CheckWatermark is the one watermark rule of miniback, for decrypted user
// data and for the phone numbers WeChat's API answers alike: it returns
// ErrWatermark unless w names appID (a missing appid is a mismatch).
func CheckWatermark(w Watermark, appID string) error {
	if w.AppID == "" || w.AppID != appID {
		return ErrWatermark
	}
	return nil
}

// ParseWatermark extracts the watermark of a plaintext returned by
// DecryptUserData. It returns ErrPayload when plain is not a JSON object and
// ErrWatermark when the watermark is missing or malformed.
func ParseWatermark(plain []byte) (Watermark, error) {
	var v struct {
		Watermark *Watermark `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &v); err != nil {
		return Watermark{}, fmt.Errorf("parse watermark: %w", ErrPayload)
	}
	if v.Watermark == nil {
		return Watermark{}, fmt.Errorf("parse watermark: %w", ErrWatermark)
	}
	return *v.Watermark, nil
}
