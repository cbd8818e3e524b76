package wxcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
)

const (
	// msgBlock is WXBizMsgCrypt's PKCS#7 block size: 32, not the AES
	// block size (protocol §d.4 step 4).
	msgBlock = 32
	// randomLen is the length of the random prefix of FullStr.
	randomLen = 16
	// headerLen is random(16) || msg_len(4).
	headerLen = randomLen + 4
)

// MsgCrypt is the WXBizMsgCrypt scheme of message push in safe and
// compatible modes (protocol §d.4): AES-256-CBC with IV = key[:16] over
// random(16) || uint32be(len(msg)) || msg || appid, PKCS#7 padded to 32
// bytes, then standard base64.
//
// A MsgCrypt is immutable after NewMsgCrypt and safe for concurrent use.
type MsgCrypt struct {
	token string
	appID string
	iv    []byte
	block cipher.Block
}

// NewMsgCrypt returns a MsgCrypt for the Token, EncodingAESKey and AppID
// configured in the console. appID is the id expected at the end of every
// plaintext: the mini program's appid, a third-party platform's appid, or a
// WeCom receive id. It returns ErrInvalidConfig for an empty token or appID
// and ErrInvalidKey when encodingAESKey is not 43 base64 characters that
// decode, after appending "=", to 32 bytes.
func NewMsgCrypt(token, encodingAESKey, appID string) (*MsgCrypt, error) {
	if token == "" || appID == "" {
		return nil, fmt.Errorf("new msg crypt: empty token or appid: %w", ErrInvalidConfig)
	}
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("new msg crypt: EncodingAESKey has %d characters, want 43: %w", len(encodingAESKey), ErrInvalidKey)
	}
	// Not Strict: a 43-character key has two unused trailing bits, and
	// real keys (e.g. WxJava's test key ending in "G") leave them non-zero.
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("new msg crypt: EncodingAESKey is not base64 of 32 bytes: %w", ErrInvalidKey)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new msg crypt: %w", ErrInvalidKey)
	}
	// The IV is the first half of the key: the reference implementation does
	// this and the official vectors only reproduce with it.
	return &MsgCrypt{token: token, appID: appID, iv: key[:aes.BlockSize], block: block}, nil
}

// AppID returns the appid this MsgCrypt writes and expects.
func (m *MsgCrypt) AppID() string { return m.appID }

// LogValue implements slog.LogValuer so that logging a MsgCrypt never prints
// its token or key.
func (m *MsgCrypt) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", m.appID), slog.String("token", "REDACTED"))
}

// Encrypt encrypts msg with a fresh random prefix from crypto/rand and
// returns the base64 Encrypt field. It returns ErrTooLarge when msg does not
// fit the 32-bit length field.
func (m *MsgCrypt) Encrypt(msg []byte) (string, error) {
	random := make([]byte, randomLen)
	if _, err := rand.Read(random); err != nil {
		return "", fmt.Errorf("msg encrypt: random: %w", err)
	}
	return m.EncryptWithRandom(random, msg)
}

// EncryptWithRandom is Encrypt with a caller-chosen 16-byte random prefix;
// the output is then deterministic, which tests and vectors need. Production
// code should call Encrypt. It returns ErrInvalidConfig when random is not 16
// bytes and ErrTooLarge when msg does not fit the 32-bit length field.
func (m *MsgCrypt) EncryptWithRandom(random, msg []byte) (string, error) {
	if len(random) != randomLen {
		return "", fmt.Errorf("msg encrypt: random prefix is %d bytes, want 16: %w", len(random), ErrInvalidConfig)
	}
	if uint64(len(msg)) > math.MaxUint32 {
		return "", fmt.Errorf("msg encrypt: %w", ErrTooLarge)
	}
	full := make([]byte, 0, headerLen+len(msg)+len(m.appID))
	full = append(full, random...)
	full = binary.BigEndian.AppendUint32(full, uint32(len(msg)))
	full = append(full, msg...)
	full = append(full, m.appID...)
	buf := pkcs7Pad(full, msgBlock)
	cipher.NewCBCEncrypter(m.block, m.iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt decrypts the base64 Encrypt field of a push and returns msg. It
// returns ErrCiphertext (not base64, shorter than 32 bytes or not a multiple
// of 16), ErrPadding (pad byte not in 1..32 or pad bytes unequal), ErrPayload
// (msg_len does not fit) or ErrAppIDMismatch (the trailing appid is not the
// configured one). It never panics.
//
// The padding and appid errors are distinguishable, so verify msg_signature
// first (VerifyAndDecrypt does both) to deny an attacker a padding oracle.
func (m *MsgCrypt) Decrypt(encrypt string) ([]byte, error) {
	msg, appID, err := m.DecryptAny(encrypt)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(appID), []byte(m.appID)) != 1 {
		return nil, fmt.Errorf("msg decrypt: %w", ErrAppIDMismatch)
	}
	return msg, nil
}

// DecryptAny is Decrypt without the appid check: it returns msg and the
// trailing appid (receive id) found in the plaintext. It is meant for tools
// and diagnostics; servers should call Decrypt or VerifyAndDecrypt.
func (m *MsgCrypt) DecryptAny(encrypt string) (msg []byte, appID string, err error) {
	ct, err := strictB64.DecodeString(encrypt)
	if err != nil || len(ct) < msgBlock || len(ct)%aes.BlockSize != 0 {
		return nil, "", fmt.Errorf("msg decrypt: %w", ErrCiphertext)
	}
	cipher.NewCBCDecrypter(m.block, m.iv).CryptBlocks(ct, ct)
	full, ok := pkcs7Unpad(ct, msgBlock)
	if !ok {
		return nil, "", fmt.Errorf("msg decrypt: %w", ErrPadding)
	}
	if len(full) < headerLen {
		return nil, "", fmt.Errorf("msg decrypt: plaintext shorter than its header: %w", ErrPayload)
	}
	n := uint64(binary.BigEndian.Uint32(full[randomLen:headerLen]))
	if headerLen+n > uint64(len(full)) {
		return nil, "", fmt.Errorf("msg decrypt: msg_len %d exceeds plaintext: %w", n, ErrPayload)
	}
	end := headerLen + int(n)
	return full[headerLen:end:end], string(full[end:]), nil
}

// VerifyAndDecrypt checks msgSignature against MsgSignature(token, timestamp,
// nonce, encrypt) in constant time and only then decrypts. It returns
// ErrSignature on a mismatch, else whatever Decrypt returns.
func (m *MsgCrypt) VerifyAndDecrypt(timestamp, nonce, encrypt, msgSignature string) ([]byte, error) {
	if !m.VerifyMsgSignature(timestamp, nonce, encrypt, msgSignature) {
		return nil, fmt.Errorf("msg decrypt: %w", ErrSignature)
	}
	return m.Decrypt(encrypt)
}

// Signature returns Signature(token, timestamp, nonce) with this MsgCrypt's
// token: the "signature" query parameter of URL verification and of pushes.
func (m *MsgCrypt) Signature(timestamp, nonce string) string {
	return Signature(m.token, timestamp, nonce)
}

// VerifySignature reports, in constant time, whether signature matches
// m.Signature(timestamp, nonce).
func (m *MsgCrypt) VerifySignature(timestamp, nonce, signature string) bool {
	return VerifySignature(m.token, timestamp, nonce, signature)
}

// MsgSignature returns MsgSignature(token, timestamp, nonce, encrypt) with
// this MsgCrypt's token.
func (m *MsgCrypt) MsgSignature(timestamp, nonce, encrypt string) string {
	return MsgSignature(m.token, timestamp, nonce, encrypt)
}

// VerifyMsgSignature reports, in constant time, whether signature matches
// m.MsgSignature(timestamp, nonce, encrypt).
func (m *MsgCrypt) VerifyMsgSignature(timestamp, nonce, encrypt, signature string) bool {
	return VerifyMsgSignature(m.token, timestamp, nonce, encrypt, signature)
}

// Reply holds the four fields of an encrypted reply envelope (protocol §d.5),
// for the caller to render as JSON (TimeStamp as a number) or XML.
type Reply struct {
	Encrypt      string
	MsgSignature string
	TimeStamp    string
	Nonce        string
}

// EncryptReply encrypts msg with a fresh random prefix and signs it for the
// given timestamp (chosen by the replier, decimal Unix seconds) and nonce
// (echoed from the request). Errors are those of Encrypt.
func (m *MsgCrypt) EncryptReply(msg []byte, timestamp, nonce string) (Reply, error) {
	enc, err := m.Encrypt(msg)
	if err != nil {
		return Reply{}, err
	}
	return m.reply(enc, timestamp, nonce), nil
}

// EncryptReplyWithRandom is EncryptReply with a fixed random prefix, for
// deterministic tests. Errors are those of EncryptWithRandom.
func (m *MsgCrypt) EncryptReplyWithRandom(random, msg []byte, timestamp, nonce string) (Reply, error) {
	enc, err := m.EncryptWithRandom(random, msg)
	if err != nil {
		return Reply{}, err
	}
	return m.reply(enc, timestamp, nonce), nil
}

func (m *MsgCrypt) reply(enc, timestamp, nonce string) Reply {
	return Reply{Encrypt: enc, MsgSignature: m.MsgSignature(timestamp, nonce, enc), TimeStamp: timestamp, Nonce: nonce}
}
