package wechatpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SchemeRSA is the Authorization scheme and Wechatpay-Signature-Type of
// WeChat Pay API v3.
const SchemeRSA = "WECHATPAY2-SHA256-RSA2048"

// RequestMessage returns the five-line string a merchant signs for a
// request: method, canonical URL (path and query exactly as sent),
// timestamp (unix seconds), nonce and body, each ending in "\n". The body
// is "" for GET.
func RequestMessage(method, canonicalURL string, timestamp int64, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(method)+len(canonicalURL)+len(nonce)+len(body)+16)
	b = append(append(b, method...), '\n')
	b = append(append(b, canonicalURL...), '\n')
	b = append(strconv.AppendInt(b, timestamp, 10), '\n')
	b = append(append(b, nonce...), '\n')
	return append(append(b, body...), '\n')
}

// ResponseMessage returns the three-line string WeChat Pay signs for a
// response or a notification: timestamp, nonce and the raw body, each
// ending in "\n" (an empty body leaves "ts\nnonce\n\n").
func ResponseMessage(timestamp, nonce string, body []byte) []byte {
	b := make([]byte, 0, len(timestamp)+len(nonce)+len(body)+3)
	b = append(append(b, timestamp...), '\n')
	b = append(append(b, nonce...), '\n')
	return append(append(b, body...), '\n')
}

// Sign returns base64(RSASSA-PKCS1-v1_5(SHA-256(message))) with key.
func Sign(key *rsa.PrivateKey, message []byte) (string, error) {
	sum := sha256.Sum256(message)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("wechatpay: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifySignature checks a base64 signature of message with pub. It
// returns an error wrapping ErrSignature when the signature is not valid
// base64 or does not match.
func VerifySignature(pub *rsa.PublicKey, message []byte, signature string) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: signature is not base64", ErrSignature)
	}
	sum := sha256.Sum256(message)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("%w: signature does not match", ErrSignature)
	}
	return nil
}

// Authorization is the content of a request's Authorization header.
type Authorization struct {
	MchID     string
	NonceStr  string
	Timestamp int64
	SerialNo  string
	Signature string
}

// String formats a as the Authorization header value, in the layout of
// WeChat Pay's documentation: the scheme, a space, then
// mchid, nonce_str, timestamp, serial_no and signature as key="value"
// separated by commas.
func (a Authorization) String() string {
	return fmt.Sprintf(`%s mchid="%s",nonce_str="%s",timestamp="%d",serial_no="%s",signature="%s"`,
		SchemeRSA, a.MchID, a.NonceStr, a.Timestamp, a.SerialNo, a.Signature)
}

// ParseAuthorization parses an Authorization header value of scheme
// WECHATPAY2-SHA256-RSA2048. The five pairs may come in any order and
// each must appear exactly once; values are double-quoted and may not
// contain quotes; the timestamp must be a decimal of at most 10 digits.
// Whitespace around pairs is tolerated. It never panics.
func ParseAuthorization(header string) (Authorization, error) {
	var a Authorization
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || scheme != SchemeRSA {
		return a, errors.New("wechatpay: authorization: scheme must be " + SchemeRSA)
	}
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(rest, ",") {
		k, v, err := parsePair(pair)
		if err != nil {
			return a, err
		}
		if seen[k] {
			return a, fmt.Errorf("wechatpay: authorization: %s given twice", k)
		}
		seen[k] = true
		if err := a.set(k, v); err != nil {
			return a, err
		}
	}
	for _, k := range []string{"mchid", "nonce_str", "timestamp", "serial_no", "signature"} {
		if !seen[k] {
			return a, fmt.Errorf("wechatpay: authorization: %s is missing", k)
		}
	}
	return a, nil
}

func parsePair(pair string) (key, value string, err error) {
	k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
	if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", "", errors.New(`wechatpay: authorization: each pair must be key="value"`)
	}
	v = v[1 : len(v)-1]
	if strings.ContainsAny(v, "\"\r\n") {
		return "", "", errors.New("wechatpay: authorization: a value holds a quote or line break")
	}
	return k, v, nil
}

func (a *Authorization) set(k, v string) error {
	switch k {
	case "mchid":
		a.MchID = v
	case "nonce_str":
		a.NonceStr = v
	case "serial_no":
		a.SerialNo = v
	case "signature":
		a.Signature = v
	case "timestamp":
		if v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
			return errors.New("wechatpay: authorization: timestamp must be unix seconds")
		}
		a.Timestamp, _ = strconv.ParseInt(v, 10, 64)
	default:
		return fmt.Errorf("wechatpay: authorization: unknown key %q", k)
	}
	return nil
}

// PayParams are the arguments of wx.requestPayment, all strings, with
// their JSON names.
type PayParams struct {
	TimeStamp string `json:"timeStamp"`
	NonceStr  string `json:"nonceStr"`
	Package   string `json:"package"`
	SignType  string `json:"signType"`
	PaySign   string `json:"paySign"`
}

// PayMessage returns the four-line string paySign signs:
// appId, timeStamp, nonceStr and package, each ending in "\n".
func PayMessage(appID, timeStamp, nonceStr, pkg string) []byte {
	return []byte(appID + "\n" + timeStamp + "\n" + nonceStr + "\n" + pkg + "\n")
}

// SignPayment returns the arguments of wx.requestPayment for prepayID,
// signed with the merchant key for appID (the appid used at prepay).
// timestamp is unix seconds; nonce is at most 32 characters.
func SignPayment(key *rsa.PrivateKey, appID, prepayID string, timestamp int64, nonce string) (*PayParams, error) {
	p := &PayParams{
		TimeStamp: strconv.FormatInt(timestamp, 10),
		NonceStr:  nonce,
		Package:   "prepay_id=" + prepayID,
		SignType:  "RSA",
	}
	sig, err := Sign(key, PayMessage(appID, p.TimeStamp, p.NonceStr, p.Package))
	if err != nil {
		return nil, err
	}
	p.PaySign = sig
	return p, nil
}

// NewNonce returns 32 random characters of [0-9A-Za-z].
func NewNonce() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
