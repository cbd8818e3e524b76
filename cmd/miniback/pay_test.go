package main

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniback/miniback/internal/config"
	"github.com/miniback/miniback/internal/pay"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechatpay"
)

// payEnv is miniback in sandbox mode with the demo app's pay, a webhook
// receiver, a recorder of notifications and a movable pay clock.
type payEnv struct {
	*testEnv
	hooks  *hookRecorder
	offset atomic.Int64 // added to the pay service's clock
}

type hookRecorder struct {
	mu     sync.Mutex
	events []map[string]any
	ids    []string
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var ev map[string]any
	_ = json.Unmarshal(raw, &ev)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Header.Get("X-Miniback-Signature") != "" {
		h.events = append(h.events, ev)
		h.ids = append(h.ids, r.Header.Get("X-Miniback-Delivery"))
	}
	w.WriteHeader(204)
}

func (h *hookRecorder) count(event, no string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if o, _ := e["order"].(map[string]any); e["event"] == event && o["out_trade_no"] == no {
			n++
		}
	}
	return n
}

func startPay(t *testing.T) *payEnv {
	pe := &payEnv{hooks: &hookRecorder{}}
	hooks := httptest.NewServer(pe.hooks)
	t.Cleanup(hooks.Close)
	pe.testEnv = startMainWith(t, func(c *config.Config) {
		withAdmin(c)
		c.SandboxOpts.PayTimeScale = 0.0005
		c.Apps[0].Pay.WebhookURL = hooks.URL
		c.Apps[0].Pay.WebhookSecret = "hook-secret"
	}, func(m *Main) {
		m.tunePay = func(s *pay.Service) {
			s.Tick = 20 * time.Millisecond
			s.Now = func() time.Time { return time.Now().Add(time.Duration(pe.offset.Load())) }
		}
	})
	return pe
}

type orderAnswer struct {
	OutTradeNo    string `json:"out_trade_no"`
	UserID        int64  `json:"user_id"`
	Status        string `json:"status"`
	TransactionID string `json:"transaction_id"`
	Refunded      int64  `json:"refunded"`
	Amount        struct {
		Total int64 `json:"total"`
	} `json:"amount"`
}

type payErrorAnswer struct {
	Error struct {
		Code          string `json:"code"`
		WeChatPayCode string `json:"wechat_pay_code"`
	} `json:"error"`
}

const admin = "/admin/v1/" + config.DemoAppID + "/pay"
const mini = "/api/v1/" + config.DemoAppID + "/pay"

func (pe *payEnv) createOrder(userID int64, no string, total int) orderAnswer {
	pe.t.Helper()
	var o orderAnswer
	st, _ := pe.do("POST", admin+"/orders", adminKey, map[string]any{"user_id": userID, "description": "一杯咖啡", "amount": map[string]any{"total": total}, "out_trade_no": no}, &o)
	if st != 201 || o.Status != "created" {
		pe.t.Fatalf("create order: %d %+v", st, o)
	}
	return o
}

func (pe *payEnv) payArgs(token, no string) wechatpay.PayParams {
	pe.t.Helper()
	var p wechatpay.PayParams
	if st, _ := pe.do("POST", mini+"/orders/"+no+"/pay", token, nil, &p); st != 200 {
		pe.t.Fatalf("pay %s: %d", no, st)
	}
	return p
}

func (pe *payEnv) confirm(no string) {
	pe.t.Helper()
	if st, _ := pe.do("POST", "/sandbox/pay/confirm", "", map[string]string{"appid": config.DemoAppID, "out_trade_no": no, "result": "SUCCESS"}, nil); st != 200 {
		pe.t.Fatalf("confirm %s: %d", no, st)
	}
}

func (pe *payEnv) fault(f map[string]any) {
	pe.t.Helper()
	if st, _ := pe.do("POST", "/sandbox/pay/faults", "", f, nil); st != 204 {
		pe.t.Fatalf("fault %v: %d", f, st)
	}
}

// waitFor polls cond for up to 10 s.
func (pe *payEnv) waitFor(what string, cond func() bool) {
	pe.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	pe.t.Fatalf("timed out waiting for %s", what)
}

func (pe *payEnv) order(no string) orderAnswer {
	var o orderAnswer
	pe.do("GET", admin+"/orders/"+no, adminKey, nil, &o)
	return o
}

func (pe *payEnv) deliveries(no string) []sandbox.Delivery {
	return pe.m.Sandbox.Deliveries(no, "")
}

// TestPayEndToEnd: create → payment arguments (paySign verifies with the
// merchant key) → confirm → paid, webhook once.
func TestPayEndToEnd(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	o := pe.createOrder(l.User.ID, "order_e2e_0001", 100)
	var again orderAnswer
	if st, _ := pe.do("POST", admin+"/orders", adminKey, map[string]any{"user_id": l.User.ID, "description": "一杯咖啡", "amount": map[string]any{"total": 100}, "out_trade_no": "order_e2e_0001"}, &again); st != 200 || again.OutTradeNo != o.OutTradeNo {
		t.Fatalf("same request again: %d %+v", st, again)
	}
	var e payErrorAnswer
	if st, _ := pe.do("POST", admin+"/orders", adminKey, map[string]any{"user_id": l.User.ID, "description": "一杯咖啡", "amount": map[string]any{"total": 101}, "out_trade_no": "order_e2e_0001"}, &e); st != 409 || e.Error.Code != "conflict" {
		t.Fatalf("same number, other body: %d %+v", st, e)
	}

	p := pe.payArgs(l.AccessToken, o.OutTradeNo)
	key := merchantKey(t, pe)
	msg := config.DemoAppID + "\n" + p.TimeStamp + "\n" + p.NonceStr + "\n" + p.Package + "\n"
	sig, _ := base64.StdEncoding.DecodeString(p.PaySign)
	sum := sha256.Sum256([]byte(msg))
	if p.SignType != "RSA" || !strings.HasPrefix(p.Package, "prepay_id=") || len(p.TimeStamp) != 10 ||
		rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		t.Fatalf("payment arguments do not verify: %+v", p)
	}
	if p2 := pe.payArgs(l.AccessToken, o.OutTradeNo); p2.Package != p.Package {
		t.Fatalf("prepay_id not reused: %s then %s", p.Package, p2.Package)
	}
	if n := pe.m.Sandbox.Calls("/v3/pay/transactions/jsapi"); n != 1 {
		t.Fatalf("%d prepay calls, want 1", n)
	}
	if got := pe.order(o.OutTradeNo); got.Status != "paying" {
		t.Fatalf("after prepay: %+v", got)
	}

	pe.confirm(o.OutTradeNo)
	pe.waitFor("order paid", func() bool { return pe.order(o.OutTradeNo).Status == "paid" })
	pe.waitFor("webhook", func() bool { return pe.hooks.count("order.paid", o.OutTradeNo) == 1 })
	var mine orderAnswer
	if st, _ := pe.do("GET", mini+"/orders/"+o.OutTradeNo+"?sync=true", l.AccessToken, nil, &mine); st != 200 || mine.Status != "paid" || mine.TransactionID == "" {
		t.Fatalf("user's view: %d %+v", st, mine)
	}
	if st, _ := pe.do("POST", mini+"/orders/"+o.OutTradeNo+"/pay", l.AccessToken, nil, &e); st != 409 || e.Error.Code != "order_paid" {
		t.Fatalf("pay a paid order: %d %+v", st, e)
	}
	other := pe.login("otto")
	if st, _ := pe.do("GET", mini+"/orders/"+o.OutTradeNo, other.AccessToken, nil, &e); st != 404 {
		t.Fatalf("another user's order: %d", st)
	}
	time.Sleep(100 * time.Millisecond) // a few more rounds of event delivery
	if n := pe.hooks.count("order.paid", o.OutTradeNo); n != 1 {
		t.Fatalf("order.paid delivered %d times", n)
	}
}

func merchantKey(t *testing.T, pe *payEnv) *rsa.PrivateKey {
	raw, err := os.ReadFile(filepath.Join(pe.m.Config.DataDir, "pay_key_"+config.DemoAppID+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := wechatpay.ParsePrivateKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPayBadNotificationsRefusedUntilAGoodOne: a changed amount, a wrong
// signature, a stale timestamp, an unknown serial and a probe are each
// refused and the sandbox's redelivery is then applied, once.
func TestPayBadNotificationsRefusedUntilAGoodOne(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	for i, fault := range []string{"amount", "signature", "stale", "serial", "probe"} {
		no := "order_bad_000" + string(rune('1'+i))
		pe.createOrder(l.User.ID, no, 250)
		pe.payArgs(l.AccessToken, no)
		pe.fault(map[string]any{"notify_fault": fault})
		pe.confirm(no)
		pe.waitFor(fault+" healed", func() bool {
			d := pe.deliveries(no)
			return pe.order(no).Status == "paid" && len(d) > 0 && d[len(d)-1].Status == 204
		})
		d := pe.deliveries(no)
		if len(d) < 2 || d[0].Fault != fault || d[0].Status < 400 || d[len(d)-1].Status != 204 {
			t.Fatalf("%s: deliveries %+v", fault, d)
		}
		pe.waitFor("webhook", func() bool { return pe.hooks.count("order.paid", no) == 1 })
	}
	resp, err := http.Get(pe.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`miniback_pay_notifications_total{result="mismatch"} 1`, `miniback_pay_notifications_total{result="bad_signature"} 4`, `miniback_pay_notifications_total{result="ok"} 5`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestPayDuplicateNotifications: the same notification five times at once
// is applied once.
func TestPayDuplicateNotifications(t *testing.T) {
	var mu sync.Mutex
	var body []byte
	var header http.Header
	var target string
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		body, header = raw, r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(500) // keep the original for the test to replay
	}))
	defer rec.Close()
	pe := &payEnv{hooks: &hookRecorder{}}
	hooks := httptest.NewServer(pe.hooks)
	defer hooks.Close()
	pe.testEnv = startMainWith(t, func(c *config.Config) {
		withAdmin(c)
		c.SandboxOpts.PayTimeScale = 100 // no redelivery within the test
		c.Apps[0].Pay.NotifyURL = rec.URL + "/notify"
		c.Apps[0].Pay.WebhookURL = hooks.URL
	}, func(m *Main) { m.tunePay = func(s *pay.Service) { s.Tick = 20 * time.Millisecond } })
	target = pe.base + "/wx/pay/notify/" + config.DemoAppID
	l := pe.login("lena")
	pe.createOrder(l.User.ID, "order_dup_0001", 300)
	pe.payArgs(l.AccessToken, "order_dup_0001")
	pe.confirm("order_dup_0001")
	pe.waitFor("the notification", func() bool { mu.Lock(); defer mu.Unlock(); return body != nil })
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", target, bytes.NewReader(body))
			req.Header = header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for _, st := range statuses {
		if st != 204 {
			t.Fatalf("statuses %v, want all 204", statuses)
		}
	}
	pe.waitFor("webhook", func() bool { return pe.hooks.count("order.paid", "order_dup_0001") == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := pe.hooks.count("order.paid", "order_dup_0001"); n != 1 {
		t.Fatalf("order.paid delivered %d times", n)
	}
}

// TestPayDroppedNotificationHealed: the notification is lost; the
// reconciliation query a minute after the prepay finds the payment.
func TestPayDroppedNotificationHealed(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	pe.createOrder(l.User.ID, "order_drop_001", 500)
	pe.payArgs(l.AccessToken, "order_drop_001")
	pe.fault(map[string]any{"drop_notify": 1})
	pe.confirm("order_drop_001")
	time.Sleep(100 * time.Millisecond)
	if got := pe.order("order_drop_001"); got.Status != "paying" {
		t.Fatalf("before reconciliation: %+v", got)
	}
	pe.offset.Store(int64(2 * time.Minute))
	pe.waitFor("reconciliation", func() bool { return pe.order("order_drop_001").Status == "paid" })
	pe.waitFor("webhook", func() bool { return pe.hooks.count("order.paid", "order_drop_001") == 1 })
}

// TestPayRefunds: partial and full refunds; an over-refund is refused
// without calling WeChat Pay.
func TestPayRefunds(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	no := "order_refund_01"
	pe.createOrder(l.User.ID, no, 100)
	var e payErrorAnswer
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 10}, &e); st != 409 || e.Error.Code != "order_not_paid" {
		t.Fatalf("refund of an unpaid order: %d %+v", st, e)
	}
	pe.payArgs(l.AccessToken, no)
	pe.confirm(no)
	pe.waitFor("paid", func() bool { return pe.order(no).Status == "paid" })

	type refundAnswer struct {
		OutRefundNo string `json:"out_refund_no"`
		Status      string `json:"status"`
		RefundID    string `json:"refund_id"`
	}
	var r refundAnswer
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 30, "out_refund_no": "refund_p1"}, &r); st != 202 || r.Status != "processing" || r.RefundID == "" {
		t.Fatalf("partial refund: %d %+v", st, r)
	}
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 30, "out_refund_no": "refund_p1"}, &r); st != 202 || r.OutRefundNo != "refund_p1" {
		t.Fatalf("same refund again: %d %+v", st, r)
	}
	calls := pe.m.Sandbox.Calls("/v3/refund/domestic/refunds")
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 71}, &e); st != 409 || e.Error.Code != "refund_exceeds_total" {
		t.Fatalf("over-refund: %d %+v", st, e)
	}
	for _, bad := range []string{`{"amount":0}`, `{"amount":-1}`, `{"amount":1.5}`, `{"amount":"10"}`, `{"amount":9223372036854775808}`,
		`{"amount":10,"out_refund_no":"bad/refund"}`, `{"amount":10,"reason":"` + strings.Repeat("x", 81) + `"}`} {
		if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, bad, &e); st != 400 || e.Error.Code != "invalid_request" {
			t.Errorf("refund %s: %d %+v", bad, st, e)
		}
	}
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 31, "out_refund_no": "refund_p1"}, &e); st != 409 || e.Error.Code != "conflict" {
		t.Fatalf("refund_p1 again with another amount: %d %+v", st, e)
	}
	if pe.m.Sandbox.Calls("/v3/refund/domestic/refunds") != calls {
		t.Fatal("a refused refund reached WeChat Pay")
	}
	pe.do("POST", "/sandbox/pay/refund-result", "", map[string]string{"appid": config.DemoAppID, "out_refund_no": "refund_p1", "status": "SUCCESS"}, nil)
	pe.waitFor("partial refund", func() bool { o := pe.order(no); return o.Refunded == 30 && o.Status == "paid" })
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 70, "out_refund_no": "refund_p2"}, &r); st != 202 {
		t.Fatalf("rest: %d", st)
	}
	pe.do("POST", "/sandbox/pay/refund-result", "", map[string]string{"appid": config.DemoAppID, "out_refund_no": "refund_p2", "status": "SUCCESS"}, nil)
	pe.waitFor("full refund", func() bool { o := pe.order(no); return o.Refunded == 100 && o.Status == "refunded" })
	var got refundAnswer
	if st, _ := pe.do("GET", admin+"/refunds/refund_p2", adminKey, nil, &got); st != 200 || got.Status != "succeeded" {
		t.Fatalf("refund: %d %+v", st, got)
	}
	pe.waitFor("webhook", func() bool {
		return pe.hooks.count("order.refunded", no) == 1 && pe.hooks.count("refund.succeeded", no) == 2
	})
}

// TestPayFaultsRetriedWithSameParameters: SYSTEM_ERROR twice is absorbed
// by retries with the same body; three times is 503 wechat_busy; 429 is
// wechat_rate_limited; a timeout after WeChat Pay acted is retried into
// the same prepay_id.
func TestPayFaultsRetriedWithSameParameters(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	pe.createOrder(l.User.ID, "order_fault_01", 100)
	pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "code": "SYSTEM_ERROR", "count": 2})
	pe.payArgs(l.AccessToken, "order_fault_01")

	pe.createOrder(l.User.ID, "order_fault_02", 100)
	pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "code": "SYSTEM_ERROR", "count": 3})
	var e payErrorAnswer
	if st, _ := pe.do("POST", mini+"/orders/order_fault_02/pay", l.AccessToken, nil, &e); st != 503 || e.Error.Code != "wechat_busy" || e.Error.WeChatPayCode != "SYSTEM_ERROR" {
		t.Fatalf("SYSTEM_ERROR ×3: %d %+v", st, e)
	}
	pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "http_status": 429})
	if st, _ := pe.do("POST", mini+"/orders/order_fault_02/pay", l.AccessToken, nil, &e); st != 429 || e.Error.Code != "wechat_rate_limited" {
		t.Fatalf("429: %d %+v", st, e)
	}
	pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "delay_ms": int(pe.m.Config.WeChat.Timeout/time.Millisecond) + 300})
	p := pe.payArgs(l.AccessToken, "order_fault_02")
	pe.confirm("order_fault_02")
	pe.waitFor("paid", func() bool { return pe.order("order_fault_02").Status == "paid" })
	if !strings.HasPrefix(p.Package, "prepay_id=wx") {
		t.Fatalf("package %q", p.Package)
	}
}

// TestPayBadInput: nothing reaches WeChat Pay.
func TestPayBadInput(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	bad := []string{
		`{"user_id":%d,"description":"d","amount":{"total":0}}`,
		`{"user_id":%d,"description":"d","amount":{"total":-1}}`,
		`{"user_id":%d,"description":"d","amount":{"total":1.5}}`,
		`{"user_id":%d,"description":"d","amount":{"total":9223372036854775808}}`,
		`{"user_id":%d,"description":"d","amount":{"total":"100"}}`,
		`{"user_id":%d,"description":"` + strings.Repeat("x", 128) + `","amount":{"total":1}}`,
		`{"user_id":%d,"description":"d","amount":{"total":1},"out_trade_no":"short"}`,
		`{"user_id":%d,"description":"d","amount":{"total":1},"out_trade_no":"bad/number/1"}`,
		`{"user_id":%d,"description":"d","amount":{"total":1,"currency":"USD"}}`,
		`{"user_id":999999%d,"description":"d","amount":{"total":1}}`,
		`{"user_id":%d,"description":"","amount":{"total":1}}`,
		`{"user_id":%d,"description":"d","amount":{"total":1},"extra":1}`,
	}
	for _, b := range bad {
		body := strings.Replace(b, "%d", jsonInt(l.User.ID), 1)
		var e payErrorAnswer
		if st, _ := pe.do("POST", admin+"/orders", adminKey, body, &e); st != 400 || e.Error.Code != "invalid_request" {
			t.Errorf("%s: %d %+v", body, st, e)
		}
	}
	var page struct {
		Orders []orderAnswer `json:"orders"`
	}
	pe.do("GET", admin+"/orders", adminKey, nil, &page)
	if len(page.Orders) != 0 || pe.m.Sandbox.Calls("/v3/pay/transactions/jsapi") != 0 {
		t.Fatalf("bad input left %d orders, %d prepay calls", len(page.Orders), pe.m.Sandbox.Calls("/v3/pay/transactions/jsapi"))
	}
	// A notification that is not WeChat Pay's changes nothing.
	req, _ := http.NewRequest("POST", pe.base+"/wx/pay/notify/"+config.DemoAppID, strings.NewReader(`{"id":"x"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(raw), `"code":"FAIL"`) {
		t.Fatalf("unsigned notification: %d %s", resp.StatusCode, raw)
	}
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestPayBreakerOpens: WeChat Pay failing opens its own circuit breaker;
// calls then fail at once with 503 wechat_unavailable and Retry-After, and
// pass again once it heals.
func TestPayBreakerOpens(t *testing.T) {
	pe := &payEnv{hooks: &hookRecorder{}}
	pe.testEnv = startMainWith(t, func(c *config.Config) {
		withAdmin(c)
		c.Breaker.Failures, c.Breaker.OpenFor, c.Breaker.Probes = 3, 3*time.Second, 1
	}, nil)
	l := pe.login("brook")
	pe.createOrder(l.User.ID, "order_breaker_1", 100)
	pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "code": "SYSTEM_ERROR", "count": 3})
	var e payErrorAnswer
	if st, _ := pe.do("POST", mini+"/orders/order_breaker_1/pay", l.AccessToken, nil, &e); st != 503 || e.Error.Code != "wechat_busy" {
		t.Fatalf("SYSTEM_ERROR ×3: %d %+v", st, e)
	}
	// The faults are spent: an answer now could only come from the breaker.
	st, h := pe.do("POST", mini+"/orders/order_breaker_1/pay", l.AccessToken, nil, &e)
	if st != 503 || e.Error.Code != "wechat_unavailable" || h.Get("Retry-After") == "" {
		t.Fatalf("open breaker: %d %+v %v", st, e, h)
	}
	pe.waitFor("the pay breaker to close", func() bool {
		st, _ := pe.do("POST", mini+"/orders/order_breaker_1/pay", l.AccessToken, nil, nil)
		return st == 200
	})
}

// TestPayOnEngines runs a payment and a refund through HTTP on MySQL and
// PostgreSQL: created → paying → paid (from the notification) → partly
// refunded, with one order.paid event.
func TestPayOnEngines(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			u := eng.url(t)
			pe := &payEnv{hooks: &hookRecorder{}}
			hooks := httptest.NewServer(pe.hooks)
			defer hooks.Close()
			pe.testEnv = startMainWith(t, func(c *config.Config) {
				withAdmin(c)
				c.Database.URL = u
				c.SandboxOpts.PayTimeScale = 0.0005
				c.Apps[0].Pay.WebhookURL = hooks.URL
			}, func(m *Main) { m.tunePay = func(s *pay.Service) { s.Tick = 20 * time.Millisecond } })
			l := pe.login("lena")
			pe.createOrder(l.User.ID, "order_engine_1", 100)
			pe.payArgs(l.AccessToken, "order_engine_1")
			pe.confirm("order_engine_1")
			pe.waitFor("paid", func() bool { return pe.order("order_engine_1").Status == "paid" })
			if st, _ := pe.do("POST", admin+"/orders/order_engine_1/refunds", adminKey, map[string]any{"amount": 40, "out_refund_no": "refund_engine_1"}, nil); st != 202 {
				t.Fatalf("refund: %d", st)
			}
			pe.do("POST", "/sandbox/pay/refund-result", "", map[string]string{"appid": config.DemoAppID, "out_refund_no": "refund_engine_1", "status": "SUCCESS"}, nil)
			pe.waitFor("refunded", func() bool { return pe.order("order_engine_1").Refunded == 40 })
			pe.waitFor("webhook", func() bool { return pe.hooks.count("order.paid", "order_engine_1") == 1 })
		})
	}
}

// TestPayCloseAndLists: closing an unpaid order closes it at WeChat Pay
// too; a closed order cannot be paid and a paid one cannot be closed;
// listings page newest first and show users their own orders only.
func TestPayCloseAndLists(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	other := pe.login("otto")
	pe.createOrder(l.User.ID, "order_list_001", 100)
	pe.createOrder(l.User.ID, "order_list_002", 200)
	pe.createOrder(other.User.ID, "order_list_003", 300)
	pe.payArgs(l.AccessToken, "order_list_001")
	var o orderAnswer
	if st, _ := pe.do("POST", admin+"/orders/order_list_001/close", adminKey, nil, &o); st != 200 || o.Status != "closed" {
		t.Fatalf("close: %d %+v", st, o)
	}
	if s := pe.m.Sandbox.TradeState(config.DemoMchID, "order_list_001"); s != "CLOSED" {
		t.Fatalf("WeChat Pay's state after close: %q", s)
	}
	var e payErrorAnswer
	if st, _ := pe.do("POST", mini+"/orders/order_list_001/pay", l.AccessToken, nil, &e); st != 409 || e.Error.Code != "order_closed" {
		t.Fatalf("pay a closed order: %d %+v", st, e)
	}
	pe.payArgs(l.AccessToken, "order_list_002")
	pe.confirm("order_list_002")
	pe.waitFor("paid", func() bool { return pe.order("order_list_002").Status == "paid" })
	if st, _ := pe.do("POST", admin+"/orders/order_list_002/close", adminKey, nil, &e); st != 409 || e.Error.Code != "order_paid" {
		t.Fatalf("close a paid order: %d %+v", st, e)
	}
	pe.waitFor("order.closed", func() bool { return pe.hooks.count("order.closed", "order_list_001") == 1 })

	type page struct {
		Orders     []orderAnswer `json:"orders"`
		NextCursor string        `json:"next_cursor"`
	}
	var p1, p2, paid, mine page
	pe.do("GET", admin+"/orders?limit=2", adminKey, nil, &p1)
	pe.do("GET", admin+"/orders?limit=2&cursor="+p1.NextCursor, adminKey, nil, &p2)
	if len(p1.Orders) != 2 || p1.Orders[0].OutTradeNo != "order_list_003" || len(p2.Orders) != 1 || p2.Orders[0].OutTradeNo != "order_list_001" || p2.NextCursor != "" {
		t.Fatalf("pages: %+v / %+v", p1, p2)
	}
	pe.do("GET", admin+"/orders?status=paid", adminKey, nil, &paid)
	pe.do("GET", mini+"/orders", other.AccessToken, nil, &mine)
	if len(paid.Orders) != 1 || paid.Orders[0].OutTradeNo != "order_list_002" || len(mine.Orders) != 1 || mine.Orders[0].OutTradeNo != "order_list_003" {
		t.Fatalf("paid: %+v; otto's: %+v", paid, mine)
	}
	if st, _ := pe.do("GET", admin+"/orders?status=lost", adminKey, nil, &e); st != 400 {
		t.Fatalf("bad status filter: %d", st)
	}
}

// TestPayWebhookToSandboxReceiver: in sandbox mode an app without
// pay.webhook_url posts its business events to the sandbox's receiver,
// signed with its webhook_secret (the demo app's own), so the README's
// curl walk-through ends on the delivered order.paid.
func TestPayWebhookToSandboxReceiver(t *testing.T) {
	pe := &payEnv{hooks: &hookRecorder{}}
	pe.testEnv = startMainWith(t, func(c *config.Config) {
		withAdmin(c)
		c.SandboxOpts.PayTimeScale = 0.0005
	}, func(m *Main) { m.tunePay = func(s *pay.Service) { s.Tick = 20 * time.Millisecond } })
	l := pe.login("lena")
	pe.createOrder(l.User.ID, "order_sink_0001", 1800)
	pe.payArgs(l.AccessToken, "order_sink_0001")
	pe.confirm("order_sink_0001")
	var got struct {
		Deliveries []sandbox.WebhookDelivery `json:"deliveries"`
	}
	pe.waitFor("order.paid at the sandbox's receiver", func() bool {
		pe.do("GET", "/sandbox/pay/webhook?out_trade_no=order_sink_0001", "", nil, &got)
		return len(got.Deliveries) > 0
	})
	time.Sleep(100 * time.Millisecond) // a few more rounds of event delivery
	pe.do("GET", "/sandbox/pay/webhook?out_trade_no=order_sink_0001", "", nil, &got)
	if d := got.Deliveries; len(d) != 1 || d[0].Event != "order.paid" || !d[0].SignatureValid || d[0].Delivery == "" {
		t.Fatalf("deliveries: %+v", d)
	}
}

// TestPayWebhookRetriedThroughTheQueue: the business service fails the
// first two posts of order.paid; the durable queue redelivers it, signed,
// with the same X-Miniback-Delivery, until answered 2xx, and not after.
func TestPayWebhookRetriedThroughTheQueue(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	var ok int
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write([]byte(r.Header.Get("X-Miniback-Timestamp") + "."))
		mac.Write(raw)
		if r.Header.Get("X-Miniback-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("webhook signature does not verify: %s", raw)
		}
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, r.Header.Get("X-Miniback-Delivery"))
		if len(ids) <= 2 {
			w.WriteHeader(503)
			return
		}
		ok++
		w.WriteHeader(204)
	}))
	defer hooks.Close()
	pe := &payEnv{hooks: &hookRecorder{}}
	pe.testEnv = startMainWith(t, func(c *config.Config) {
		withAdmin(c)
		c.SandboxOpts.PayTimeScale = 0.0005
		c.Apps[0].Pay.WebhookURL = hooks.URL
		c.Apps[0].Pay.WebhookSecret = "hook-secret"
	}, func(m *Main) { m.tunePay = func(s *pay.Service) { s.Tick = 20 * time.Millisecond } })
	if pe.m.Pay.Queue == nil {
		t.Fatal("the pay service has no queue")
	}
	l := pe.login("lena")
	pe.createOrder(l.User.ID, "order_hookq_001", 100)
	pe.payArgs(l.AccessToken, "order_hookq_001")
	pe.confirm("order_hookq_001")
	pe.waitFor("the third post", func() bool { mu.Lock(); defer mu.Unlock(); return ok == 1 })
	time.Sleep(200 * time.Millisecond) // a few more rounds of event delivery
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] || ok != 1 {
		t.Fatalf("posts %v (%d answered 2xx), want three of one delivery id, one 2xx", ids, ok)
	}
}

// TestPayWeChatPayCodesMapped: each WeChat Pay error code pay.md names
// reaches the caller as its error JSON, with wechat_pay_code set.
func TestPayWeChatPayCodesMapped(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	for i, tc := range []struct {
		code   string
		status int
		want   string
	}{
		{"FREQUENCY_LIMITED", 429, "wechat_rate_limited"},
		{"ORDERPAID", 409, "order_paid"},
		{"ORDER_CLOSED", 409, "order_closed"},
		{"SIGN_ERROR", 502, "wechat_misconfigured"},
		{"APPID_MCHID_NOT_MATCH", 502, "wechat_misconfigured"},
		{"MCH_NOT_EXISTS", 502, "wechat_misconfigured"},
		{"NO_AUTH", 502, "wechat_misconfigured"},
		{"PARAM_ERROR", 422, "wechat_rejected"},
		{"INVALID_REQUEST", 422, "wechat_rejected"},
		{"OUT_TRADE_NO_USED", 422, "wechat_rejected"},
	} {
		no := fmt.Sprintf("order_code_%03d", i)
		pe.createOrder(l.User.ID, no, 100)
		pe.fault(map[string]any{"path": "/v3/pay/transactions/jsapi", "code": tc.code})
		var e payErrorAnswer
		if st, _ := pe.do("POST", mini+"/orders/"+no+"/pay", l.AccessToken, nil, &e); st != tc.status || e.Error.Code != tc.want || e.Error.WeChatPayCode != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.code, st, e, tc.status, tc.want)
		}
	}
	// NOT_ENOUGH comes from a refund.
	no := "order_code_refund"
	pe.createOrder(l.User.ID, no, 100)
	pe.payArgs(l.AccessToken, no)
	pe.confirm(no)
	pe.waitFor("paid", func() bool { return pe.order(no).Status == "paid" })
	pe.fault(map[string]any{"path": "/v3/refund/domestic/refunds", "code": "NOT_ENOUGH"})
	var e payErrorAnswer
	if st, _ := pe.do("POST", admin+"/orders/"+no+"/refunds", adminKey, map[string]any{"amount": 10}, &e); st != 409 || e.Error.Code != "insufficient_funds" || e.Error.WeChatPayCode != "NOT_ENOUGH" {
		t.Errorf("NOT_ENOUGH: %d %+v", st, e)
	}
}

// TestPayOrderByOpenID: the business may name the payer by openid; an
// absent out_trade_no is generated within WeChat Pay's pattern; attach and
// time_expire are kept; an unknown openid is refused.
func TestPayOrderByOpenID(t *testing.T) {
	pe := startPay(t)
	l := pe.login("lena")
	expire := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	var o struct {
		orderAnswer
		OpenID     string `json:"openid"`
		Attach     string `json:"attach"`
		TimeExpire string `json:"time_expire"`
	}
	body := map[string]any{"openid": l.User.OpenID, "description": "一杯咖啡", "amount": map[string]any{"total": 100, "currency": "CNY"},
		"attach": "cart=7", "time_expire": expire}
	if st, _ := pe.do("POST", admin+"/orders", adminKey, body, &o); st != 201 {
		t.Fatalf("create by openid: %d", st)
	}
	if o.UserID != l.User.ID || o.OpenID != l.User.OpenID || o.Attach != "cart=7" || o.TimeExpire == "" ||
		!regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`).MatchString(o.OutTradeNo) {
		t.Fatalf("order %+v", o)
	}
	if got, _ := time.Parse(time.RFC3339, o.TimeExpire); got.Unix() != mustTime(t, expire).Unix() {
		t.Fatalf("time_expire %s, want %s", o.TimeExpire, expire)
	}
	pe.payArgs(l.AccessToken, o.OutTradeNo)
	var e payErrorAnswer
	body["openid"] = "o-nobody-knows-this-one"
	if st, _ := pe.do("POST", admin+"/orders", adminKey, body, &e); st != 400 || e.Error.Code != "invalid_request" {
		t.Fatalf("unknown openid: %d %+v", st, e)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
