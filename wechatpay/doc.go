// Package wechatpay is a client for WeChat Pay API v3 as a mini program's
// merchant uses it (JSAPI payments and domestic refunds), written with the
// standard library only and usable without the rest of miniback.
//
// It signs every request with the merchant's API key
// (WECHATPAY2-SHA256-RSA2048), checks the signature of every answer and
// notification before believing it, with platform certificates and the
// WeChat Pay public key at once (chosen by Wechatpay-Serial, as WeChat Pay's
// migration between them requires), opens AEAD_AES_256_GCM resources with
// the APIv3 key, and signs the arguments of wx.requestPayment.
//
// Failures are typed: an answer with a non-2xx status is an *Error carrying
// WeChat Pay's code; a failed verification wraps ErrSignature; a failed
// decryption wraps ErrDecrypt; a malformed notification wraps ErrMalformed.
// An answer whose signature does not verify is never a success, and a
// WECHATPAY/SIGNTEST/ probe simply fails verification.
//
// A Client is safe for concurrent use.
package wechatpay
