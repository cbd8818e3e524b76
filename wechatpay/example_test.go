package wechatpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/miniback/miniback/wechatpay"
)

// A notification handler: verify with every trusted key, decrypt, then
// check the transaction against the order before recording it.
func ExampleParseNotification() {
	platform, _ := rsa.GenerateKey(rand.Reader, 2048) // WeChat Pay's key, for the example
	apiV3Key := []byte("0123456789abcdef0123456789abcdef")

	v := &wechatpay.Verifier{}
	v.AddPublicKey("PUB_KEY_ID_0000000000000024101100397200000006", &platform.PublicKey)

	// What WeChat Pay would send.
	ct, _ := wechatpay.EncryptAEAD(apiV3Key, "fdasflkja484", "transaction",
		[]byte(`{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"order_0001","trade_state":"SUCCESS","amount":{"total":100}}`))
	body := []byte(`{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + ct + `","associated_data":"transaction","nonce":"fdasflkja484"}}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig, _ := wechatpay.Sign(platform, wechatpay.ResponseMessage(ts, "nonce1", body))
	h := http.Header{}
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", "nonce1")
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Serial", "PUB_KEY_ID_0000000000000024101100397200000006")

	n, err := wechatpay.ParseNotification(context.Background(), v, apiV3Key, h, body)
	if err != nil {
		fmt.Println("refused:", err) // answer 4xx/5xx: WeChat Pay sends it again
		return
	}
	tx, _ := n.Transaction()
	fmt.Println(n.EventType, tx.OutTradeNo, tx.TradeState, tx.Amount.Total)
	// Output: TRANSACTION.SUCCESS order_0001 SUCCESS 100
}
