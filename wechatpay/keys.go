package wechatpay

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivateKey parses the merchant API private key (apiclient_key.pem):
// one PEM block holding a PKCS#8 RSA key of exactly 2048 bits, which is
// what WECHATPAY2-SHA256-RSA2048 names. Anything else is an error that
// never quotes the key.
func ParsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("wechatpay: private key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("wechatpay: private key: not PKCS#8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("wechatpay: private key: not an RSA key")
	}
	if rk.N.BitLen() != 2048 {
		return nil, fmt.Errorf("wechatpay: private key: RSA %d bits, want 2048", rk.N.BitLen())
	}
	return rk, nil
}

// ParsePublicKey parses the WeChat Pay public key downloaded from the
// merchant console: a PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY" (PKCS#1)
// block holding an RSA key of at least 2048 bits.
func ParsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("wechatpay: public key: no PEM block")
	}
	var pub any
	var err error
	if block.Type == "RSA PUBLIC KEY" {
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	} else {
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("wechatpay: public key: %w", err)
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok || rk.N.BitLen() < 2048 {
		return nil, errors.New("wechatpay: public key: not an RSA key of at least 2048 bits")
	}
	return rk, nil
}

// ParseCertificate parses a PEM certificate, such as a decrypted platform
// certificate, and returns it with its serial in WeChat Pay's spelling.
func ParseCertificate(pemBytes []byte) (*x509.Certificate, string, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, "", errors.New("wechatpay: certificate: no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("wechatpay: certificate: %w", err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, "", errors.New("wechatpay: certificate: not an RSA key")
	}
	return cert, SerialOf(cert), nil
}

// SerialOf returns a certificate's serial as WeChat Pay writes it: the
// serial number's big-endian bytes in upper-case hex, without leading
// zeros stripped from the bytes (e.g. "D7CE59D1F522D701").
func SerialOf(cert *x509.Certificate) string {
	return fmt.Sprintf("%X", cert.SerialNumber.Bytes())
}
