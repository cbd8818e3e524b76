package sandbox

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testAPIv3Key = "0123456789abcdef0123456789abcdef"

// payEnv is a sandbox with one pay app, a merchant that signs with its own
// code (not package wechatpay), and a notify receiver.
type payEnv struct {
	t        *testing.T
	s        *Server
	ts       *httptest.Server
	merchant *rsa.PrivateKey

	mu       sync.Mutex
	status   int // what the receiver answers
	received []*http.Request
	bodies   [][]byte
	notify   *httptest.Server
}

func newPayEnv(t *testing.T) *payEnv {
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := &payEnv{t: t, merchant: merchant, status: 204}
	e.s = New(Config{PayTimeScale: 0.0005, Apps: []App{{AppID: app1, Secret: secret1,
		Pay: &PayApp{MchID: "1900000109", APIv3Key: testAPIv3Key, MerchantKey: &merchant.PublicKey, MerchantSerial: "MSERIAL"}}}})
	e.ts = httptest.NewServer(e.s)
	e.notify = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.received, e.bodies = append(e.received, r), append(e.bodies, b)
		st := e.status
		e.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(func() { e.notify.Close(); e.ts.Close(); e.s.Close() })
	return e
}

// call sends a merchant-signed request and checks the answer's signature.
func (e *payEnv) call(method, path, body string) (int, map[string]any) {
	req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	msg := method + "\n" + path + "\n" + ts + "\nNONCE1\n" + body + "\n"
	req.Header.Set("Authorization", `WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="NONCE1",timestamp="`+ts+`",serial_no="MSERIAL",signature="`+rsaSign(e.merchant, msg)+`"`)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "test")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	pub, _, _, _ := e.s.PayPublicKey()
	h := resp.Header
	if !rsaVerify(pub, h.Get("Wechatpay-Timestamp")+"\n"+h.Get("Wechatpay-Nonce")+"\n"+string(raw)+"\n", h.Get("Wechatpay-Signature")) {
		e.t.Fatalf("%s %s: answer %d not signed by the platform key", method, path, resp.StatusCode)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *payEnv) prepay(no string, total int) (int, map[string]any) {
	return e.call("POST", "/v3/pay/transactions/jsapi", `{"appid":"`+app1+`","mchid":"1900000109","description":"cup","out_trade_no":"`+no+`","notify_url":"`+e.notify.URL+`/n","amount":{"total":`+strconv.Itoa(total)+`,"currency":"CNY"},"payer":{"openid":"o1"}}`)
}

func (e *payEnv) waitNotified(n int) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		got := len(e.received)
		e.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("fewer than %d notifications arrived", n)
}

func TestPayPrepayQueryCloseRefund(t *testing.T) {
	e := newPayEnv(t)
	st, out := e.prepay("order_0001", 100)
	if st != 200 || !strings.HasPrefix(out["prepay_id"].(string), "wx") {
		t.Fatalf("prepay = %d %v", st, out)
	}
	if st, again := e.prepay("order_0001", 100); st != 200 || again["prepay_id"] != out["prepay_id"] {
		t.Fatalf("identical prepay = %d %v, want the same prepay_id", st, again)
	}
	if st, used := e.prepay("order_0001", 101); st != 403 || used["code"] != "OUT_TRADE_NO_USED" {
		t.Fatalf("changed prepay = %d %v", st, used)
	}
	if st, q := e.call("GET", "/v3/pay/transactions/out-trade-no/order_0001?mchid=1900000109", ""); st != 200 || q["trade_state"] != "NOTPAY" {
		t.Fatalf("query = %d %v", st, q)
	}
	if _, err := e.s.ConfirmPayment(app1, "order_0001", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	if st, q := e.call("POST", "/v3/pay/transactions/out-trade-no/order_0001/close", `{"mchid":"1900000109"}`); st != 403 || q["code"] != "ORDERPAID" {
		t.Fatalf("close of a paid order = %d %v", st, q)
	}
	refund := func(no string, amount int) (int, map[string]any) {
		return e.call("POST", "/v3/refund/domestic/refunds", `{"out_trade_no":"order_0001","out_refund_no":"`+no+`","amount":{"refund":`+strconv.Itoa(amount)+`,"total":100,"currency":"CNY"}}`)
	}
	if st, r := refund("refund_1", 60); st != 200 || r["status"] != "PROCESSING" {
		t.Fatalf("refund = %d %v", st, r)
	}
	if st, r := refund("refund_2", 41); st != 400 {
		t.Fatalf("over-refund = %d %v", st, r)
	}
	if st, r := refund("refund_1", 60); st != 200 || r["out_refund_no"] != "refund_1" {
		t.Fatalf("same refund again = %d %v", st, r)
	}
	if _, err := e.s.SettleRefund(app1, "refund_1", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	if st, r := e.call("GET", "/v3/refund/domestic/refunds/refund_1", ""); st != 200 || r["status"] != "SUCCESS" {
		t.Fatalf("refund query = %d %v", st, r)
	}
	e.waitNotified(2) // the payment and the refund
}

func TestPayRefusesBadMerchantSignature(t *testing.T) {
	e := newPayEnv(t)
	e.merchant, _ = rsa.GenerateKey(rand.Reader, 2048)
	if st, out := e.prepay("order_0002", 1); st != 401 || out["code"] != "SIGN_ERROR" {
		t.Fatalf("foreign key = %d %v", st, out)
	}
}

func TestPayNotificationRetriedUntilAnswered(t *testing.T) {
	e := newPayEnv(t)
	e.prepay("order_0003", 5)
	e.status = 500
	if err := e.s.InjectPayFault(PayFault{Probe: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ConfirmPayment(app1, "order_0003", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	e.waitNotified(3)
	e.mu.Lock()
	e.status = 204
	first := e.received[0].Header.Get("Wechatpay-Signature")
	e.mu.Unlock()
	if !strings.HasPrefix(first, "WECHATPAY/SIGNTEST/") {
		t.Fatalf("first delivery signature %q, want a probe", first)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d := e.s.Deliveries("order_0003", "")
		if len(d) > 0 && d[len(d)-1].Status == 204 {
			var env notifyEnvelope
			_ = json.Unmarshal(e.bodies[len(e.bodies)-1], &env)
			if env.EventType != "TRANSACTION.SUCCESS" || env.Resource.Algorithm != "AEAD_AES_256_GCM" {
				t.Fatalf("envelope = %+v", env)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the notification was not redelivered until answered 2xx")
}

func TestPayDropNotify(t *testing.T) {
	e := newPayEnv(t)
	e.prepay("order_0004", 5)
	_ = e.s.InjectPayFault(PayFault{DropNotify: 1})
	_, _ = e.s.ConfirmPayment(app1, "order_0004", "SUCCESS")
	time.Sleep(50 * time.Millisecond)
	if d := e.s.Deliveries("order_0004", ""); len(d) != 1 || d[0].Fault != "dropped" || len(e.received) != 0 {
		t.Fatalf("deliveries = %+v, received %d", d, len(e.received))
	}
}

// TestPayWebhookReceiver: the receiver keeps the business events posted to
// it, checking each signature with the app's webhook secret, and lists
// them by order.
func TestPayWebhookReceiver(t *testing.T) {
	e := newPayEnv(t)
	e.s.SetPayApp(app1, &PayApp{MchID: "1900000109", APIv3Key: testAPIv3Key, MerchantKey: &e.merchant.PublicKey, WebhookSecret: "whsec"})
	post := func(body, delivery, secret string) int {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + body))
		req, _ := http.NewRequest("POST", e.ts.URL+"/sandbox/pay/webhook", strings.NewReader(body))
		req.Header.Set("X-Miniback-Timestamp", ts)
		req.Header.Set("X-Miniback-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-Miniback-Delivery", delivery)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	paid := `{"event":"order.paid","appid":"` + app1 + `","order":{"out_trade_no":"order_0001"}}`
	if st := post(paid, "ev-1", "whsec"); st != 204 {
		t.Fatalf("signed event: %d", st)
	}
	if st := post(paid, "ev-1", "another secret"); st != 204 {
		t.Fatalf("wrongly signed event: %d", st)
	}
	if st := post(`{"event":"refund.succeeded","appid":"`+app1+`","order":{"out_trade_no":"order_0002"},"refund":{"out_refund_no":"r1"}}`, "ev-2", "whsec"); st != 204 {
		t.Fatalf("refund event: %d", st)
	}
	if st := post(`{"hello":1}`, "ev-3", "whsec"); st != 400 {
		t.Fatalf("not an event: %d", st)
	}
	resp, err := http.Get(e.ts.URL + "/sandbox/pay/webhook?out_trade_no=order_0001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Deliveries []WebhookDelivery `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	d := got.Deliveries
	if len(d) != 2 || d[0].Delivery != "ev-1" || d[0].Event != "order.paid" || !d[0].SignatureValid || d[1].SignatureValid {
		t.Fatalf("deliveries for order_0001: %+v", d)
	}
	if all := e.s.Webhooks(""); len(all) != 3 || all[2].OutRefundNo != "r1" {
		t.Fatalf("all deliveries: %+v", all)
	}
}

// TestPayChecksWhatWeChatPayChecks: a stale timestamp, a missing Accept or
// User-Agent, another merchant serial, a body changed after signing and a
// missing field are each refused with WeChat Pay's status and code, and
// create nothing.
func TestPayChecksWhatWeChatPayChecks(t *testing.T) {
	e := newPayEnv(t)
	good := `{"appid":"` + app1 + `","mchid":"1900000109","description":"cup","out_trade_no":"order_chk_1","notify_url":"` + e.notify.URL + `/n","amount":{"total":1,"currency":"CNY"},"payer":{"openid":"o1"}}`
	send := func(ts time.Time, serial, signed, sent string, drop string) (int, map[string]any) {
		path := "/v3/pay/transactions/jsapi"
		req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(sent))
		unix := strconv.FormatInt(ts.Unix(), 10)
		msg := "POST\n" + path + "\n" + unix + "\nNONCE1\n" + signed + "\n"
		req.Header.Set("Authorization", `WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="NONCE1",timestamp="`+unix+`",serial_no="`+serial+`",signature="`+rsaSign(e.merchant, msg)+`"`)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "test")
		req.Header.Set("Content-Type", "application/json")
		if drop != "" {
			req.Header.Set(drop, "") // net/http sends no header set empty, not even its own User-Agent
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	now := time.Now()
	cases := []struct {
		name         string
		ts           time.Time
		serial       string
		signed, sent string
		drop         string
		status       int
		code         string
	}{
		{"six minutes old", now.Add(-6 * time.Minute), "MSERIAL", good, good, "", 401, "SIGN_ERROR"},
		{"six minutes ahead", now.Add(6 * time.Minute), "MSERIAL", good, good, "", 401, "SIGN_ERROR"},
		{"no Accept", now, "MSERIAL", good, good, "Accept", 400, "INVALID_REQUEST"},
		{"no User-Agent", now, "MSERIAL", good, good, "User-Agent", 400, "INVALID_REQUEST"},
		{"another serial", now, "OTHERSERIAL", good, good, "", 401, "SIGN_ERROR"},
		{"body changed after signing", now, "MSERIAL", good, strings.Replace(good, `"total":1`, `"total":2`, 1), "", 401, "SIGN_ERROR"},
		{"no payer", now, "MSERIAL", strings.Replace(good, `,"payer":{"openid":"o1"}`, "", 1), strings.Replace(good, `,"payer":{"openid":"o1"}`, "", 1), "", 400, "PARAM_ERROR"},
	}
	for _, tc := range cases {
		if st, out := send(tc.ts, tc.serial, tc.signed, tc.sent, tc.drop); st != tc.status || out["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, out, tc.status, tc.code)
		}
	}
	if s := e.s.TradeState("1900000109", "order_chk_1"); s != "" {
		t.Fatalf("a refused prepay created an order (%s)", s)
	}
	if st, _ := send(now, "MSERIAL", good, good, ""); st != 200 {
		t.Fatalf("the good request: %d", st)
	}
}
