package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Notification event types of payments and refunds.
const (
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	EventRefundSuccess      = "REFUND.SUCCESS"
	EventRefundAbnormal     = "REFUND.ABNORMAL"
	EventRefundClosed       = "REFUND.CLOSED"
)

// MaxNotificationBytes bounds a notification body; WeChat Pay's are a few
// KiB.
const MaxNotificationBytes = 64 << 10

// ErrMalformed is wrapped when a notification body is not the JSON
// envelope of WeChat Pay.
var ErrMalformed = errors.New("wechatpay: malformed notification")

// Notification is a WeChat Pay notification: its envelope and, once
// opened, the decrypted resource in Plaintext.
type Notification struct {
	ID           string   `json:"id"`
	CreateTime   string   `json:"create_time"`
	ResourceType string   `json:"resource_type"`
	EventType    string   `json:"event_type"`
	Summary      string   `json:"summary"`
	Resource     Resource `json:"resource"`

	// Plaintext is the decrypted resource, set by OpenNotification.
	Plaintext []byte `json:"-"`
}

// Resource is the encrypted part of a notification.
type Resource struct {
	OriginalType   string `json:"original_type"`
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
}

// DecodeNotification parses a notification body: one JSON object with
// an id, an event_type and a resource holding an AEAD_AES_256_GCM
// ciphertext and its 12-byte nonce. It does not verify or decrypt. Errors
// wrap ErrMalformed; it never panics.
func DecodeNotification(body []byte) (*Notification, error) {
	if len(body) > MaxNotificationBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMalformed, MaxNotificationBytes)
	}
	var n Notification
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrMalformed)
	}
	switch {
	case n.ID == "" || len(n.ID) > 64:
		return nil, fmt.Errorf("%w: id must be 1-64 characters", ErrMalformed)
	case n.EventType == "":
		return nil, fmt.Errorf("%w: event_type is missing", ErrMalformed)
	case n.Resource.Algorithm != AlgorithmAEAD:
		return nil, fmt.Errorf("%w: resource.algorithm must be %s", ErrMalformed, AlgorithmAEAD)
	case len(n.Resource.Nonce) != 12:
		return nil, fmt.Errorf("%w: resource.nonce must be 12 bytes", ErrMalformed)
	case n.Resource.Ciphertext == "":
		return nil, fmt.Errorf("%w: resource.ciphertext is missing", ErrMalformed)
	}
	return &n, nil
}

// Open decrypts n's resource with the APIv3 key into n.Plaintext.
// Failures wrap ErrDecrypt.
func (n *Notification) Open(apiV3Key []byte) error {
	plain, err := DecryptAEAD(apiV3Key, n.Resource.Nonce, n.Resource.AssociatedData, n.Resource.Ciphertext)
	if err != nil {
		return err
	}
	n.Plaintext = plain
	return nil
}

// Transaction decodes the plaintext of a payment notification.
func (n *Notification) Transaction() (*Transaction, error) {
	var t Transaction
	if err := json.Unmarshal(n.Plaintext, &t); err != nil {
		return nil, fmt.Errorf("%w: transaction: %w", ErrMalformed, err)
	}
	return &t, nil
}

// Refund decodes the plaintext of a refund notification.
func (n *Notification) Refund() (*RefundNotice, error) {
	var r RefundNotice
	if err := json.Unmarshal(n.Plaintext, &r); err != nil {
		return nil, fmt.Errorf("%w: refund: %w", ErrMalformed, err)
	}
	return &r, nil
}

// RefundNotice is the decrypted resource of a refund notification.
type RefundNotice struct {
	MchID               string       `json:"mchid"`
	OutTradeNo          string       `json:"out_trade_no"`
	TransactionID       string       `json:"transaction_id"`
	OutRefundNo         string       `json:"out_refund_no"`
	RefundID            string       `json:"refund_id"`
	RefundStatus        string       `json:"refund_status"`
	SuccessTime         string       `json:"success_time"`
	UserReceivedAccount string       `json:"user_received_account"`
	Amount              RefundAmount `json:"amount"`
}

// ParseNotification reads a notification from its raw body and headers:
// it verifies the signature with v (before looking at the body, which is
// used byte for byte), decodes the envelope and decrypts the resource with
// the APIv3 key. Errors wrap ErrSignature, ErrMalformed or ErrDecrypt, and
// a notification failing any step must be answered 4xx/5xx so that WeChat
// Pay sends it again.
func ParseNotification(ctx context.Context, v *Verifier, apiV3Key []byte, header http.Header, body []byte) (*Notification, error) {
	h, err := HeadersFrom(header)
	if err != nil {
		return nil, err
	}
	if err := v.Verify(ctx, h, body); err != nil {
		return nil, err
	}
	n, err := DecodeNotification(body)
	if err != nil {
		return nil, err
	}
	if err := n.Open(apiV3Key); err != nil {
		return nil, err
	}
	return n, nil
}
