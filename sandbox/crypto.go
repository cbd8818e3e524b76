package sandbox

// The few WeChat ciphers and signatures the sandbox needs, written out here
// rather than imported from wxcrypto (not available when this was written),
// so that the emulator and the client cannot share a mistake either.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// pkcs7Pad pads b to a multiple of k bytes (1..k bytes of value n).
func pkcs7Pad(b []byte, k int) []byte {
	n := k - len(b)%k
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// cbcEncrypt encrypts the already padded plain with AES-CBC.
func cbcEncrypt(key, iv, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sandbox: aes key: %w", err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return out, nil
}

// encryptUserData encrypts open data as wx.getUserInfo / the legacy phone
// button do: AES-128-CBC, key = base64-decoded session_key, random IV,
// PKCS#7 with 16-byte blocks. It returns base64 ciphertext and IV.
func encryptUserData(sessionKey string, plain []byte) (encrypted, iv string, err error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil {
		return "", "", fmt.Errorf("sandbox: session key: %w", err)
	}
	ivb := randBytes(aes.BlockSize)
	ct, err := cbcEncrypt(key, ivb, pkcs7Pad(plain, aes.BlockSize))
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(ct), base64.StdEncoding.EncodeToString(ivb), nil
}

// encryptMsg is WXBizMsgCrypt encryption: AES-256-CBC with key =
// base64(EncodingAESKey+"="), IV = key[:16], over random16 || len32be(msg)
// || msg || appid padded PKCS#7 to 32 bytes.
func encryptMsg(encodingAESKey, appid string, msg []byte) (string, error) {
	return encryptMsgWith(randBytes(16), encodingAESKey, appid, msg)
}

// encryptMsgWith is encryptMsg with the 16 random bytes given.
func encryptMsgWith(random []byte, encodingAESKey, appid string, msg []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return "", fmt.Errorf("sandbox: EncodingAESKey must be 43 base64 characters: %w", err)
	}
	full := append(append([]byte(nil), random...), binary.BigEndian.AppendUint32(nil, uint32(len(msg)))...)
	full = append(append(full, msg...), appid...)
	ct, err := cbcEncrypt(key, key[:16], pkcs7Pad(full, 32))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// sha1Sorted is sha1_hex of the byte-wise sorted parts concatenated, the
// push signature (token, timestamp, nonce) and msg_signature (+ Encrypt).
func sha1Sorted(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// rawDataSignature is sha1_hex(rawData + session_key).
func rawDataSignature(rawData, sessionKey string) string {
	sum := sha1.Sum([]byte(rawData + sessionKey))
	return hex.EncodeToString(sum[:])
}
