package pay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/pay"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/wechatpay"
)

// BenchmarkHandleNotification is the whole cost of one payment
// notification: verify the RSA signature, decrypt the resource, match it
// against the order and record the payment with its event (SQLite).
func BenchmarkHandleNotification(b *testing.B) {
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(b.TempDir(), "bench.db"))
	if err := db.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	platform, _ := rsa.GenerateKey(rand.Reader, 2048)
	merchant, _ := rsa.GenerateKey(rand.Reader, 2048)
	c, _ := wechatpay.NewClient(mchid, "S", merchant, []byte(apiKey), wechatpay.WithPublicKey("PUB_KEY_ID_1", &platform.PublicKey))
	store := sqlite.NewPayStore(db)
	s := &pay.Service{Store: store, State: memory.New(), Apps: map[string]*pay.App{appid: {AppID: appid, MchID: mchid, Client: c}}}
	type note struct {
		h    http.Header
		body []byte
	}
	notes := make([]note, b.N)
	for i := range b.N {
		no := fmt.Sprintf("bench_%08d", i)
		o := &miniback.Order{OutTradeNo: no, AppID: appid, UserID: 1, OpenID: "o", Description: "d",
			Amount: miniback.Amount{Total: 100, Currency: "CNY"}, Fingerprint: "f", CreatedAt: time.Now()}
		if err := store.CreateOrder(ctx, o); err != nil {
			b.Fatal(err)
		}
		plain, _ := json.Marshal(map[string]any{"appid": appid, "mchid": mchid, "out_trade_no": no, "transaction_id": "42" + fmt.Sprintf("%026d", i),
			"trade_type": "JSAPI", "trade_state": "SUCCESS", "success_time": "2026-12-01T10:00:00+08:00", "amount": map[string]any{"total": 100, "payer_total": 100, "currency": "CNY"}})
		ct, _ := wechatpay.EncryptAEAD([]byte(apiKey), "abcdefghijkl", "transaction", plain)
		body := []byte(`{"id":"EV-` + strconv.Itoa(i) + `","create_time":"2026-12-01T10:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"ok","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + ct + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig, _ := wechatpay.Sign(platform, wechatpay.ResponseMessage(ts, "n", body))
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", "n")
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", "PUB_KEY_ID_1")
		notes[i] = note{h, body}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := s.HandleNotification(ctx, appid, notes[i].h, notes[i].body); err != nil {
			b.Fatal(err)
		}
	}
}
