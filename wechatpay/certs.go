package wechatpay

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Certificate is one platform certificate as listed by /v3/certificates,
// decrypted and parsed.
type Certificate struct {
	SerialNo      string
	EffectiveTime time.Time
	ExpireTime    time.Time
	PEM           []byte
}

type certificatesAnswer struct {
	Data []struct {
		SerialNo           string   `json:"serial_no"`
		EffectiveTime      string   `json:"effective_time"`
		ExpireTime         string   `json:"expire_time"`
		EncryptCertificate Resource `json:"encrypt_certificate"`
	} `json:"data"`
}

// DownloadCertificates fetches the platform certificates. Each is
// decrypted with the APIv3 key (whose AEAD tag authenticates it) and its
// serial must equal the listed serial_no. When no key is trusted yet (the
// very first download in certificate mode) the answer's signature cannot
// be checked before the certificates in it are known, so it is checked
// with them after decryption.
func (c *Client) DownloadCertificates(ctx context.Context) ([]Certificate, error) {
	var ans certificatesAnswer
	boot := len(c.verifier.Serials()) == 0
	var err error
	if boot {
		err = c.doBootstrap(ctx, &ans)
	} else {
		err = c.do(ctx, "GET", "/v3/certificates", nil, &ans)
	}
	if err != nil {
		return nil, err
	}
	return decodeCertificates(c.apiV3Key, ans)
}

func decodeCertificates(apiV3Key []byte, ans certificatesAnswer) ([]Certificate, error) {
	var out []Certificate
	for _, d := range ans.Data {
		r := d.EncryptCertificate
		plain, err := DecryptAEAD(apiV3Key, r.Nonce, r.AssociatedData, r.Ciphertext)
		if err != nil {
			return nil, fmt.Errorf("wechatpay: certificate %s: %w", d.SerialNo, err)
		}
		cert, serial, err := ParseCertificate(plain)
		if err != nil {
			return nil, err
		}
		if serial != d.SerialNo {
			return nil, fmt.Errorf("wechatpay: certificate serial %s is listed as %s", serial, d.SerialNo)
		}
		out = append(out, Certificate{SerialNo: serial, EffectiveTime: cert.NotBefore, ExpireTime: cert.NotAfter, PEM: plain})
	}
	return out, nil
}

// RefreshCertificates downloads the platform certificates and trusts every
// one that has not expired, keeping those already held, so that both sides
// of a rotation verify. It is the Verifier's Refresh; call it at start and
// every few hours in certificate mode.
func (c *Client) RefreshCertificates(ctx context.Context) error {
	certs, err := c.DownloadCertificates(ctx)
	if err != nil {
		return err
	}
	for _, ct := range certs {
		cert, _, err := ParseCertificate(ct.PEM)
		if err != nil {
			return err
		}
		c.verifier.AddCertificate(ct.SerialNo, cert.PublicKey.(*rsa.PublicKey), cert.NotAfter)
	}
	return nil
}

// doBootstrap fetches /v3/certificates when no key is trusted yet: the
// answer is decrypted first, then its signature is checked with the
// certificates it carries (a self-consistency check; the AEAD tag, made
// with the APIv3 key, is what authenticates the contents).
func (c *Client) doBootstrap(ctx context.Context, ans *certificatesAnswer) error {
	const api = "GET /v3/certificates"
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, "GET", "/v3/certificates", nil)
	if err != nil {
		return fmt.Errorf("wechatpay: %s: %w", api, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("wechatpay: %s: %w", api, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("wechatpay: %s: read answer: %w", api, err)
	}
	if resp.StatusCode/100 != 2 {
		return c.answer(ctx, api, resp, raw, nil)
	}
	if err := json.Unmarshal(raw, ans); err != nil {
		return fmt.Errorf("wechatpay: %s: decode answer: %w", api, err)
	}
	certs, err := decodeCertificates(c.apiV3Key, *ans)
	if err != nil {
		return err
	}
	tmp := &Verifier{Now: c.now}
	for _, ct := range certs {
		cert, _, _ := ParseCertificate(ct.PEM)
		tmp.AddCertificate(ct.SerialNo, cert.PublicKey.(*rsa.PublicKey), cert.NotAfter)
	}
	h, err := HeadersFrom(resp.Header)
	if err == nil {
		err = tmp.Verify(ctx, h, raw)
	}
	if err != nil {
		return fmt.Errorf("wechatpay: %s: answer not trusted: %w", api, err)
	}
	return nil
}
