package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// maxWebhooks is how many business events POST /sandbox/pay/webhook
// remembers, oldest dropped first.
const maxWebhooks = 1000

// WebhookDelivery is one business event a backend posted to the sandbox's
// webhook receiver (POST /sandbox/pay/webhook), so that a payment in
// sandbox mode can be followed to the end with curl. SignatureValid tells
// whether X-Miniback-Signature is "sha256=" + hex(HMAC-SHA256(the app's
// PayApp.WebhookSecret, X-Miniback-Timestamp + "." + body)).
type WebhookDelivery struct {
	Delivery       string    `json:"delivery"` // X-Miniback-Delivery
	Event          string    `json:"event"`
	AppID          string    `json:"appid"`
	OutTradeNo     string    `json:"out_trade_no,omitempty"`
	OutRefundNo    string    `json:"out_refund_no,omitempty"`
	SignatureValid bool      `json:"signature_valid"`
	At             time.Time `json:"at"`
}

// Webhooks returns the business events received for outTradeNo (all of
// them when empty), oldest first. It is safe for concurrent use.
func (s *Server) Webhooks(outTradeNo string) []WebhookDelivery {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	out := []WebhookDelivery{}
	for _, d := range s.pay.webhooks {
		if outTradeNo == "" || d.OutTradeNo == outTradeNo {
			out = append(out, d)
		}
	}
	return out
}

// handleControlWebhook receives a business event (POST, answered 204) or
// lists those received (GET ?out_trade_no=).
func (s *Server) handleControlWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := controlMethod(r, http.MethodGet, http.MethodPost); err != nil {
		return err
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Webhooks(r.URL.Query().Get("out_trade_no"))})
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return ctlErr(http.StatusBadRequest, "cannot read the body: %v", err)
	}
	var ev struct {
		Event string `json:"event"`
		AppID string `json:"appid"`
		Order struct {
			OutTradeNo string `json:"out_trade_no"`
		} `json:"order"`
		Refund *struct {
			OutRefundNo string `json:"out_refund_no"`
		} `json:"refund"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Event == "" {
		return ctlErr(http.StatusBadRequest, "not a business event: want {\"event\",\"appid\",\"order\",\"refund\"?}")
	}
	d := WebhookDelivery{Delivery: r.Header.Get("X-Miniback-Delivery"), Event: ev.Event, AppID: ev.AppID,
		OutTradeNo: ev.Order.OutTradeNo, At: s.now()}
	if ev.Refund != nil {
		d.OutRefundNo = ev.Refund.OutRefundNo
	}
	if a := s.payApp(ev.AppID); a != nil {
		mac := hmac.New(sha256.New, []byte(a.Pay.WebhookSecret))
		mac.Write([]byte(r.Header.Get("X-Miniback-Timestamp") + "."))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		d.SignatureValid = hmac.Equal([]byte(want), []byte(r.Header.Get("X-Miniback-Signature")))
	}
	s.pay.mu.Lock()
	if len(s.pay.webhooks) >= maxWebhooks {
		s.pay.webhooks = append(s.pay.webhooks[:0:0], s.pay.webhooks[1:]...)
	}
	s.pay.webhooks = append(s.pay.webhooks, d)
	s.pay.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
