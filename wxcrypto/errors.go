package wxcrypto

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers test with errors.Is. Messages never contain key material,
// plaintext or ciphertext.
var (
	// ErrInvalidKey reports a session_key or EncodingAESKey that is not valid
	// base64 of the required length (16 bytes for a session_key, 43 characters
	// decoding to 32 bytes for an EncodingAESKey).
	ErrInvalidKey = errors.New("wxcrypto: invalid key")
	// ErrInvalidIV reports an iv that is not base64 of exactly 16 bytes.
	ErrInvalidIV = errors.New("wxcrypto: invalid iv")
	// ErrInvalidConfig reports an empty token or appid given to NewMsgCrypt,
	// or a random prefix that is not 16 bytes.
	ErrInvalidConfig = errors.New("wxcrypto: invalid configuration")
	// ErrCiphertext reports ciphertext that is not base64, is empty, or whose
	// length is not a multiple of the AES block size (or is too short).
	ErrCiphertext = errors.New("wxcrypto: malformed ciphertext")
	// ErrPadding reports a PKCS#7 padding that is not well formed.
	ErrPadding = errors.New("wxcrypto: bad padding")
	// ErrPayload reports a decrypted payload that does not have the expected
	// structure: user data that is not a JSON object, or a WXBizMsgCrypt
	// plaintext whose msg_len does not fit.
	ErrPayload = errors.New("wxcrypto: malformed plaintext")
	// ErrWatermark reports user data whose watermark.appid is missing or is
	// not the expected appid.
	ErrWatermark = errors.New("wxcrypto: watermark appid mismatch")
	// ErrAppIDMismatch reports a WXBizMsgCrypt message whose trailing appid
	// (receive id) is not the configured one.
	ErrAppIDMismatch = errors.New("wxcrypto: appid mismatch")
	// ErrSignature reports a msg_signature that does not match.
	ErrSignature = errors.New("wxcrypto: signature mismatch")
	// ErrTooLarge reports a message too long for the 32-bit msg_len field.
	ErrTooLarge = errors.New("wxcrypto: message too large")
)
