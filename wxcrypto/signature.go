package wxcrypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"strings"
)

// RawDataSignature returns sha1_hex(rawData + sessionKey), the signature
// wx.getUserInfo sends with rawData (protocol §c.8). sessionKey is the base64
// string as-is, not decoded; rawData must be the exact string the client
// received.
func RawDataSignature(rawData, sessionKey string) string {
	h := sha1.New()
	h.Write([]byte(rawData))
	h.Write([]byte(sessionKey))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyRawDataSignature reports whether signature (hex, either case) is the
// rawData signature of rawData under sessionKey. The comparison runs in
// constant time.
func VerifyRawDataSignature(rawData, sessionKey, signature string) bool {
	return equalHex(RawDataSignature(rawData, sessionKey), signature)
}

// LoginStateSignature returns the user login-state signature of body
// (protocol §c.1): lowercase hex HMAC-SHA256 whose key is the ASCII bytes of
// the base64 session_key string as given (not the decoded 16 bytes).
func LoginStateSignature(sessionKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(sessionKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// VerifyLoginStateSignature reports, in constant time, whether signature (hex,
// either case) is LoginStateSignature(sessionKey, body).
func VerifyLoginStateSignature(sessionKey string, body []byte, signature string) bool {
	return equalHex(LoginStateSignature(sessionKey, body), signature)
}

// CheckSessionSignature returns the signature that /wxa/checksession,
// /wxa/resetusersessionkey and /wxa/business/getuserencryptkey expect: the
// login-state signature of the empty message.
func CheckSessionSignature(sessionKey string) string {
	return LoginStateSignature(sessionKey, nil)
}

// SortedSHA1 sorts parts byte-wise, concatenates them and returns the
// lowercase hex SHA-1 of the result. It does not modify parts.
func SortedSHA1(parts ...string) string {
	sorted := slices.Clone(parts)
	slices.Sort(sorted)
	h := sha1.New()
	for _, p := range sorted {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Signature returns the "signature" query parameter of message push (URL
// verification and every POST): SortedSHA1(token, timestamp, nonce). In
// encrypted modes it does not cover the body; use MsgSignature there.
func Signature(token, timestamp, nonce string) string {
	return SortedSHA1(token, timestamp, nonce)
}

// VerifySignature reports, in constant time, whether signature (hex, either
// case) equals Signature(token, timestamp, nonce).
func VerifySignature(token, timestamp, nonce, signature string) bool {
	return equalHex(Signature(token, timestamp, nonce), signature)
}

// MsgSignature returns the "msg_signature" of an encrypted push or reply:
// SortedSHA1(token, timestamp, nonce, encrypt), where encrypt is the base64
// Encrypt field exactly as sent.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	return SortedSHA1(token, timestamp, nonce, encrypt)
}

// VerifyMsgSignature reports, in constant time, whether signature (hex,
// either case) equals MsgSignature(token, timestamp, nonce, encrypt).
func VerifyMsgSignature(token, timestamp, nonce, encrypt, signature string) bool {
	return equalHex(MsgSignature(token, timestamp, nonce, encrypt), signature)
}

// equalHex compares a computed lowercase hex digest with a caller-supplied
// one in constant time. Lowercasing the supplied value first reveals nothing
// about the expected digest.
func equalHex(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) == 1
}
