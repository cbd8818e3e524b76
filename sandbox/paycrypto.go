package sandbox

// WeChat Pay's signatures and cipher as the sandbox plays them, written
// out here from the documentation rather than imported from wechatpay, so
// that the emulator and the client cannot share a mistake.

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// payPlatform is the sandbox's WeChat Pay key: one RSA key, published both
// as a platform certificate (by serial) and as a WeChat Pay public key (by
// id), as a merchant midway through the migration sees it.
type payPlatform struct {
	key         *rsa.PrivateKey
	certPEM     []byte
	certSerial  string
	publicKeyID string
	notAfter    time.Time
}

func newPayPlatform(key *rsa.PrivateKey, now time.Time) (*payPlatform, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	serial := new(big.Int).SetBytes(append([]byte{0x5A}, randBytes(19)...))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA (sandbox)", Organization: []string{"miniback sandbox"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sandbox: platform certificate: %w", err)
	}
	id := "PUB_KEY_ID_01" + strings.ToUpper(fmt.Sprintf("%x", randBytes(16)))[:30]
	return &payPlatform{
		key:         key,
		certPEM:     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		certSerial:  fmt.Sprintf("%X", serial.Bytes()),
		publicKeyID: id,
		notAfter:    tpl.NotAfter,
	}, nil
}

// rsaSign is base64(RSASSA-PKCS1-v1_5(SHA-256(msg))).
func rsaSign(key *rsa.PrivateKey, msg string) string {
	sum := sha256.Sum256([]byte(msg))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]) // fails only for tiny keys
	return base64.StdEncoding.EncodeToString(sig)
}

func rsaVerify(pub *rsa.PublicKey, msg, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(msg))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw) == nil
}

// merchantAuth is the parsed Authorization header of a merchant request.
type merchantAuth struct {
	mchid, nonce, serial, signature string
	timestamp                       int64
}

// parseMerchantAuth reads `WECHATPAY2-SHA256-RSA2048 k="v",…` with the five
// keys in any order.
func parseMerchantAuth(h string) (*merchantAuth, error) {
	rest, ok := strings.CutPrefix(h, "WECHATPAY2-SHA256-RSA2048 ")
	if !ok {
		return nil, errors.New("Authorization must use the WECHATPAY2-SHA256-RSA2048 scheme")
	}
	a := &merchantAuth{}
	got := 0
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, errors.New("Authorization pairs must be key=\"value\"")
		}
		v = v[1 : len(v)-1]
		got++
		switch k {
		case "mchid":
			a.mchid = v
		case "nonce_str":
			a.nonce = v
		case "serial_no":
			a.serial = v
		case "signature":
			a.signature = v
		case "timestamp":
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil || len(v) != 10 {
				return nil, errors.New("timestamp must be 10-digit unix seconds")
			}
			a.timestamp = ts
		default:
			got--
		}
	}
	if got != 5 || a.mchid == "" || a.nonce == "" || a.serial == "" || a.signature == "" {
		return nil, errors.New("Authorization lacks mchid, nonce_str, timestamp, serial_no or signature")
	}
	return a, nil
}

// gcmSeal encrypts plain as AEAD_AES_256_GCM, base64(ct‖tag).
func gcmSeal(key []byte, nonce, ad string, plain []byte) (string, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", fmt.Errorf("sandbox: APIv3 key: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(nonce), plain, []byte(ad))), nil
}

// randAlnum returns n random characters of [0-9a-zA-Z].
func randAlnum(n int) string {
	const al = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := randBytes(n)
	for i := range b {
		b[i] = al[int(b[i])%len(al)]
	}
	return string(b)
}

// randDigits returns n random decimal digits.
func randDigits(n int) string {
	b := randBytes(n)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}
