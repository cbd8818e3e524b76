// Package wxcrypto implements the signatures and ciphers of the WeChat Mini
// Program protocol. It uses only the standard library and can be used alone
// by any Go program.
//
// User data (protocol §c.1, §c.7, §c.8):
//
//   - DecryptUserData opens the legacy encryptedData (AES-128-CBC under the
//     session_key) with strict PKCS#7 and a watermark.appid check;
//     EncryptUserData is its inverse for emulators and tests.
//   - RawDataSignature / VerifyRawDataSignature: sha1_hex(rawData + session_key).
//   - LoginStateSignature / CheckSessionSignature: HMAC-SHA256 keyed with the
//     ASCII bytes of the base64 session_key, as checksession expects.
//
// Message push (protocol §d.1–§d.5):
//
//   - Signature, MsgSignature and SortedSHA1: SHA-1 of the byte-wise sorted,
//     concatenated parts, used for URL verification, plaintext pushes and the
//     msg_signature of encrypted pushes and replies.
//   - MsgCrypt: the WXBizMsgCrypt scheme (AES-256-CBC, IV = key[:16], PKCS#7
//     to 32 bytes, trailing appid), with VerifyAndDecrypt for incoming
//     pushes and EncryptReply for encrypted answers.
//
// Every Verify function compares in constant time and accepts hex in either
// case. Every error wraps one of the exported sentinel errors (ErrPadding,
// ErrWatermark, ErrAppIDMismatch, …) for errors.Is, and no error message
// contains a key, a plaintext or a ciphertext. No function panics on any
// input; all functions and MsgCrypt methods are safe for concurrent use.
//
// CBC gives no integrity. Decrypted user data is trustworthy only because
// the key is the session_key only WeChat and this server know, and the
// watermark check rejects changes to the tail of the ciphertext; a pushed
// message is authenticated by its msg_signature, which must be checked
// before decrypting (VerifyAndDecrypt does so) so that the distinct
// decryption errors cannot serve as a padding oracle.
package wxcrypto
