package wechatpay

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSignPayment is the cost of the wx.requestPayment arguments
// (one RSA-2048 signature).
func BenchmarkSignPayment(b *testing.B) {
	_, key, _ := loadVectors(b)
	for b.Loop() {
		if _, err := SignPayment(key, "wxd678efh567hg6787", "wx201410272009395522657a690389285100", 1414561699, NewNonce()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseNotification is the cost of verifying, decoding and
// decrypting one payment notification.
func BenchmarkParseNotification(b *testing.B) {
	_, key, _ := loadVectors(b)
	apiKey := []byte("0123456789abcdef0123456789abcdef")
	ct, _ := EncryptAEAD(apiKey, "fdasflkja484", "transaction", []byte(`{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000000","trade_type":"JSAPI","trade_state":"SUCCESS","amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`))
	body := []byte(`{"id":"EV-2018022511223320873","create_time":"2015-05-20T13:29:35+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"ok","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + ct + `","associated_data":"transaction","nonce":"fdasflkja484"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig, _ := Sign(key, ResponseMessage(ts, "n", body))
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", "n")
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", "PUB_KEY_ID_1")
	v := &Verifier{}
	v.AddPublicKey("PUB_KEY_ID_1", &key.PublicKey)
	for b.Loop() {
		n, err := ParseNotification(context.Background(), v, apiKey, h, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.Transaction(); err != nil {
			b.Fatal(err)
		}
	}
}
