package pay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/pay"
	"github.com/miniback/miniback/internal/state/memory"
	"github.com/miniback/miniback/internal/store/sqlite"
	"github.com/miniback/miniback/sandbox"
	"github.com/miniback/miniback/wechatpay"
)

const (
	appid  = "wxpaytest00000001"
	mchid  = "1900000109"
	apiKey = "0123456789abcdef0123456789abcdef"
)

// world is one database, the sandbox playing WeChat Pay, and a receiver
// that keeps the notifications it gets (answering 500, so that the
// sandbox holds on to them) for the test to hand to instances.
type world struct {
	t        *testing.T
	db       *sqlite.DB
	sb       *sandbox.Server
	base     string
	merchant *rsa.PrivateKey
	user     *miniback.User

	mu      sync.Mutex
	notices []notice
	notify  string
}

type notice struct {
	header http.Header
	body   []byte
}

func newWorld(t *testing.T) *world { return newWorldSigning(t, "") }

// newWorldSigning is newWorld with the sandbox signing notifications with
// notifyWith: "public_key" (default) or "certificate".
func newWorldSigning(t *testing.T, notifyWith string) *world {
	w := &world{t: t}
	w.db = sqlite.NewDB(filepath.Join(t.TempDir(), "pay.db"))
	if err := w.db.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.db.Close() })
	if err := w.db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.merchant, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	w.sb = sandbox.New(sandbox.Config{PayTimeScale: 1000, Apps: []sandbox.App{{AppID: appid, Secret: "s",
		Pay: &sandbox.PayApp{MchID: mchid, APIv3Key: apiKey, MerchantKey: &w.merchant.PublicKey, NotifyWith: notifyWith}}}})
	srv := httptest.NewServer(w.sb)
	rec := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.notices = append(w.notices, notice{r.Header.Clone(), b})
		w.mu.Unlock()
		rw.WriteHeader(500)
	}))
	t.Cleanup(func() { rec.Close(); srv.Close(); w.sb.Close() })
	w.base, w.notify = srv.URL, rec.URL+"/notify"
	w.user, _, err = sqlite.NewUserStore(w.db).UpsertLogin(context.Background(), appid, "o-lena", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// instance is one miniback process: its own client and state store, the
// shared database.
func (w *world) instance(now func() time.Time) *pay.Service {
	pub, id, _, err := w.sb.PayPublicKey()
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := wechatpay.NewClient(mchid, "MSERIAL", w.merchant, []byte(apiKey),
		wechatpay.WithBaseURL(w.base), wechatpay.WithPublicKey(id, pub), wechatpay.WithRetries(0, 0))
	if err != nil {
		w.t.Fatal(err)
	}
	return &pay.Service{Store: sqlite.NewPayStore(w.db), Users: sqlite.NewUserStore(w.db), State: memory.New(), Now: now,
		Apps: map[string]*pay.App{appid: {AppID: appid, MchID: mchid, NotifyURL: w.notify, Client: c}}, Instance: "i"}
}

// payingOrder creates order no of total fen for the world's user and asks
// for its payment arguments (a prepay at WeChat Pay): paid by nobody yet.
func (w *world) payingOrder(s *pay.Service, no, total string) {
	ctx := context.Background()
	req := &miniback.OrderRequest{UserID: w.user.ID, Description: "tea", OutTradeNo: no}
	req.Amount.Total = []byte(total)
	if _, _, err := s.CreateOrder(ctx, appid, req); err != nil {
		w.t.Fatal(err)
	}
	if _, err := s.PayOrder(ctx, appid, w.user.ID, no); err != nil {
		w.t.Fatal(err)
	}
}

// paidOrder is payingOrder of 300 fen, then paid in the sandbox.
func (w *world) paidOrder(s *pay.Service, no string) {
	w.payingOrder(s, no, "300")
	if _, err := w.sb.ConfirmPayment(appid, no, "SUCCESS"); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitNotice(n int) notice {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		if len(w.notices) >= n {
			defer w.mu.Unlock()
			return w.notices[n-1]
		}
		w.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	w.t.Fatal("no notification arrived")
	return notice{}
}

func pendingEvents(t *testing.T, s *pay.Service) []*miniback.PayEvent {
	ev, err := s.Store.PendingPayEvents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestNotificationAppliedOnceOnTwoInstances delivers one notification five
// times to each of two instances at once: all answered, applied once.
func TestNotificationAppliedOnceOnTwoInstances(t *testing.T) {
	w := newWorld(t)
	a, b := w.instance(nil), w.instance(nil)
	w.paidOrder(a, "order_twice_01")
	n := w.waitNotice(1)
	var wg sync.WaitGroup
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.HandleNotification(context.Background(), appid, n.header, n.body); err != nil {
				t.Errorf("delivery %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	o, err := a.Order(context.Background(), appid, "order_twice_01", false)
	if err != nil || o.Status != miniback.OrderPaid || o.TransactionID == "" {
		t.Fatalf("order = %+v, %v", o, err)
	}
	if ev := pendingEvents(t, a); len(ev) != 1 || ev[0].Event != miniback.EventOrderPaid {
		t.Fatalf("events = %+v, want one order.paid", ev)
	}
}

// TestMismatchedNotificationChangesNothing: a correctly signed
// notification whose amount differs from the order is refused.
func TestMismatchedNotificationChangesNothing(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	if err := w.sb.InjectPayFault(sandbox.PayFault{NotifyFault: sandbox.NotifyAmount}); err != nil {
		t.Fatal(err)
	}
	w.paidOrder(s, "order_mism_01")
	n := w.waitNotice(1)
	err := s.HandleNotification(context.Background(), appid, n.header, n.body)
	if err == nil || miniback.ErrorCode(err) != miniback.ECodeInvalidRequest {
		t.Fatalf("mismatched amount: %v", err)
	}
	o, _ := s.Order(context.Background(), appid, "order_mism_01", false)
	if o.Status != miniback.OrderPaying || len(pendingEvents(t, s)) != 0 {
		t.Fatalf("a refused notification changed the order: %+v", o)
	}
	// Tampered bytes fail the signature, unknown apps are refused.
	bad := append([]byte(nil), n.body...)
	bad[len(bad)/2] ^= 1
	if err := s.HandleNotification(context.Background(), appid, n.header, bad); !errors.Is(err, wechatpay.ErrSignature) {
		t.Fatalf("tampered body: %v", err)
	}
}

// TestReconciliationAfterRestart: the notification is lost and the
// instance that prepaid is gone; a new one, started later, finds the
// payment from the schedule stored with the order.
func TestReconciliationAfterRestart(t *testing.T) {
	w := newWorld(t)
	first := w.instance(nil)
	if err := w.sb.InjectPayFault(sandbox.PayFault{DropNotify: 1}); err != nil {
		t.Fatal(err)
	}
	w.paidOrder(first, "order_recon_01")
	later := time.Now().Add(2 * time.Minute)
	second := w.instance(func() time.Time { return later })
	second.RunOnce(context.Background())
	o, _ := second.Order(context.Background(), appid, "order_recon_01", false)
	if o.Status != miniback.OrderPaid || o.TransactionID == "" || !o.NextCheckAt.IsZero() {
		t.Fatalf("after reconciliation: %+v", o)
	}
}

// TestCertificateSignedNotificationWithPublicKeyConfigured: during WeChat
// Pay's migration, a notification signed by the platform certificate
// reaches an instance configured with the public key only; its unknown
// serial fetches the certificates once and it verifies.
func TestCertificateSignedNotificationWithPublicKeyConfigured(t *testing.T) {
	w := newWorldSigning(t, "certificate")
	s := w.instance(nil)
	w.paidOrder(s, "order_cert_01")
	n := w.waitNotice(1)
	_, _, certSerial, _ := w.sb.PayPublicKey()
	if n.header.Get("Wechatpay-Serial") != certSerial {
		t.Fatalf("serial %q, want the certificate's %q", n.header.Get("Wechatpay-Serial"), certSerial)
	}
	if err := s.HandleNotification(context.Background(), appid, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	if got := w.sb.Calls("/v3/certificates"); got != 1 {
		t.Fatalf("%d certificate downloads, want 1", got)
	}
	if err := s.HandleNotification(context.Background(), appid, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	if got := w.sb.Calls("/v3/certificates"); got != 1 {
		t.Fatalf("%d certificate downloads after a known serial, want 1", got)
	}
	o, _ := s.Order(context.Background(), appid, "order_cert_01", false)
	if o.Status != miniback.OrderPaid {
		t.Fatalf("order %+v", o)
	}
}

// TestExpiredOrderClosedByReconciliation: an unpaid order past its
// time_expire is closed at WeChat Pay and here, with its event.
func TestExpiredOrderClosedByReconciliation(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	ctx := context.Background()
	req := &miniback.OrderRequest{UserID: w.user.ID, Description: "tea", OutTradeNo: "order_expire_1",
		TimeExpire: time.Now().Add(3 * time.Minute).Format(time.RFC3339)}
	req.Amount.Total = []byte("100")
	if _, _, err := s.CreateOrder(ctx, appid, req); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PayOrder(ctx, appid, w.user.ID, "order_expire_1"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(10 * time.Minute)
	s.Now = func() time.Time { return later }
	if _, err := s.PayOrder(ctx, appid, w.user.ID, "order_expire_1"); miniback.ErrorCode(err) != miniback.ECodeOrderExpired {
		t.Fatalf("paying an expired order: %v", err)
	}
	s.RunOnce(ctx)
	o, _ := s.Order(ctx, appid, "order_expire_1", false)
	if o.Status != miniback.OrderClosed || w.sb.TradeState(mchid, "order_expire_1") != "CLOSED" {
		t.Fatalf("order %s here, %s at WeChat Pay", o.Status, w.sb.TradeState(mchid, "order_expire_1"))
	}
}

// TestRefundHealedByReconciliation: the refund's notification is lost;
// reconciliation finds it succeeded.
func TestRefundHealedByReconciliation(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	ctx := context.Background()
	w.paidOrder(s, "order_refund_r1")
	n := w.waitNotice(1)
	if err := s.HandleNotification(ctx, appid, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateRefund(ctx, appid, "order_refund_r1", &miniback.RefundRequest{OutRefundNo: "refund_r1", Amount: []byte("300")})
	if err != nil || r.Status != miniback.RefundProcessing || r.RefundID == "" {
		t.Fatalf("refund = %+v, %v", r, err)
	}
	if err := w.sb.InjectPayFault(sandbox.PayFault{DropNotify: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sb.SettleRefund(appid, "refund_r1", "SUCCESS"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Minute)
	s.Now = func() time.Time { return later }
	s.RunOnce(ctx)
	o, _ := s.Order(ctx, appid, "order_refund_r1", false)
	if r, _ := s.Refund(ctx, appid, "refund_r1", false); r.Status != miniback.RefundSucceeded || o.Status != miniback.OrderRefunded || o.Refunded != 300 {
		t.Fatalf("refund %+v, order %+v", r, o)
	}
}

// TestWebhookRetriedWithTheSameDelivery: a business event the receiver
// fails is posted again, with the same X-Miniback-Delivery and a valid
// signature, until answered 2xx, then never again.
func TestWebhookRetriedWithTheSameDelivery(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	var mu sync.Mutex
	var got []*http.Request
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r)
		if len(got) == 1 {
			rw.WriteHeader(503)
			return
		}
		rw.WriteHeader(204)
	}))
	defer hook.Close()
	s.Apps[appid].WebhookURL, s.Apps[appid].WebhookSecret = hook.URL, "whsec"
	ctx := context.Background()
	w.paidOrder(s, "order_hook_01")
	n := w.waitNotice(1)
	if err := s.HandleNotification(ctx, appid, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.RunOnce(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Header.Get("X-Miniback-Delivery") != got[1].Header.Get("X-Miniback-Delivery") ||
		!strings.HasPrefix(got[1].Header.Get("X-Miniback-Signature"), "sha256=") {
		t.Fatalf("%d deliveries", len(got))
	}
	if len(pendingEvents(t, s)) != 0 {
		t.Fatal("the delivered event is still pending")
	}
}

// TestUnsignedAnswerIsNeverASuccess: a 2xx from "WeChat Pay" without a
// valid signature is 502 wechat_misconfigured, and nothing is recorded.
func TestUnsignedAnswerIsNeverASuccess(t *testing.T) {
	w := newWorld(t)
	fake := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"prepay_id":"wx_forged"}`)
	}))
	defer fake.Close()
	w.base = fake.URL
	s := w.instance(nil)
	ctx := context.Background()
	req := &miniback.OrderRequest{UserID: w.user.ID, Description: "tea", OutTradeNo: "order_forged_1"}
	req.Amount.Total = []byte("100")
	if _, _, err := s.CreateOrder(ctx, appid, req); err != nil {
		t.Fatal(err)
	}
	_, err := s.PayOrder(ctx, appid, w.user.ID, "order_forged_1")
	if miniback.ErrorCode(err) != miniback.ECodeWeChatConfig {
		t.Fatalf("unsigned prepay answer: %v", err)
	}
	if o, _ := s.Order(ctx, appid, "order_forged_1", false); o.Status != miniback.OrderCreated || o.PrepayID != "" {
		t.Fatalf("order after a forged answer: %+v", o)
	}
}

// TestUserSyncAtMostEvery5s: the mini program's ?sync=true asks WeChat
// Pay at most once per 5 s per order.
func TestUserSyncAtMostEvery5s(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	ctx := context.Background()
	w.payingOrder(s, "order_sync_01", "100")
	path := "/v3/pay/transactions/out-trade-no/order_sync_01"
	for range 3 {
		if _, err := s.UserOrder(ctx, appid, w.user.ID, "order_sync_01", true); err != nil {
			t.Fatal(err)
		}
	}
	if n := w.sb.Calls(path); n != 1 {
		t.Fatalf("%d queries for three syncs within 5 s, want 1", n)
	}
	if _, err := s.UserOrder(ctx, appid, w.user.ID+1, "order_sync_01", true); !miniback.IsNotFound(err) {
		t.Fatalf("another user's order: %v", err)
	}
}

// TestWebhookNoRedirect: a receiver answering a redirect is not followed
// (the signed event goes only to webhook_url); the 3xx is a failed
// delivery and the event stays pending (issue #6 item 6, for business
// events as for pushes).
func TestWebhookNoRedirect(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	var mu sync.Mutex
	elsewhere, tries := 0, 0
	other := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		elsewhere++
	}))
	defer other.Close()
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tries++
		mu.Unlock()
		http.Redirect(rw, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer hook.Close()
	s.Apps[appid].WebhookURL, s.Apps[appid].WebhookSecret = hook.URL, "whsec"
	ctx := context.Background()
	w.paidOrder(s, "order_hook_redirect")
	n := w.waitNotice(1)
	if err := s.HandleNotification(ctx, appid, n.header, n.body); err != nil {
		t.Fatal(err)
	}
	s.RunOnce(ctx)
	mu.Lock()
	defer mu.Unlock()
	if tries == 0 || elsewhere != 0 {
		t.Fatalf("%d posts to the webhook, %d to the redirect target; want some and none", tries, elsewhere)
	}
	if len(pendingEvents(t, s)) != 1 {
		t.Fatal("an event answered with a redirect is no longer pending")
	}
}

// TestNotificationForAnotherMerchantChangesNothing: a notification that
// verifies and decrypts but names another appid, another mchid or another
// amount than the order is refused, each check on its own, as is one that
// verifies but does not decrypt; the order and its events stay as they
// were, and the matching one is then applied.
func TestNotificationForAnotherMerchantChangesNothing(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	ctx := context.Background()
	w.payingOrder(s, "order_other_01", "300")
	// An instance trusting a platform key of the test's, so that the test
	// can sign whatever transaction it likes.
	platform, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wechatpay.NewClient(mchid, "MSERIAL", w.merchant, []byte(apiKey), wechatpay.WithBaseURL(w.base),
		wechatpay.WithPublicKey("PUB_KEY_ID_TEST", &platform.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	forged := &pay.Service{Store: s.Store, Users: s.Users, State: memory.New(),
		Apps: map[string]*pay.App{appid: {AppID: appid, MchID: mchid, NotifyURL: w.notify, Client: c}}}
	encryptWith := apiKey
	notify := func(txAppID, txMchID string, total int64) error {
		plain, _ := json.Marshal(map[string]any{"appid": txAppID, "mchid": txMchID, "out_trade_no": "order_other_01",
			"transaction_id": "4200000000000000000000000001", "trade_type": "JSAPI", "trade_state": "SUCCESS",
			"success_time": "2026-12-01T10:00:00+08:00", "amount": map[string]any{"total": total, "payer_total": total, "currency": "CNY"}})
		ct, err := wechatpay.EncryptAEAD([]byte(encryptWith), "abcdefghijkl", "transaction", plain)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"id":"EV-other","create_time":"2026-12-01T10:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` + ct + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sig, err := wechatpay.Sign(platform, wechatpay.ResponseMessage(ts, "n1", body))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("Wechatpay-Timestamp", ts)
		h.Set("Wechatpay-Nonce", "n1")
		h.Set("Wechatpay-Signature", sig)
		h.Set("Wechatpay-Serial", "PUB_KEY_ID_TEST")
		return forged.HandleNotification(ctx, appid, h, body)
	}
	for name, tx := range map[string]struct {
		appid, mchid string
		total        int64
	}{
		"appid":  {"wxanotherapp00001", mchid, 300},
		"mchid":  {appid, "1900000999", 300},
		"amount": {appid, mchid, 299},
	} {
		err := notify(tx.appid, tx.mchid, tx.total)
		if miniback.ErrorCode(err) != miniback.ECodeInvalidRequest {
			t.Fatalf("another %s: %v, want invalid_request", name, err)
		}
		o, _ := s.Order(ctx, appid, "order_other_01", false)
		if o.Status != miniback.OrderPaying || o.TransactionID != "" || len(pendingEvents(t, s)) != 0 {
			t.Fatalf("another %s changed the order: %+v", name, o)
		}
	}
	// Signed, but encrypted with another APIv3 key: undecryptable.
	encryptWith = "another-apiv3-key-of-32-bytes-00"
	if err := notify(appid, mchid, 300); !errors.Is(err, wechatpay.ErrDecrypt) || miniback.ErrorCode(err) != miniback.ECodeInvalidRequest {
		t.Fatalf("undecryptable: %v", err)
	}
	if o, _ := s.Order(ctx, appid, "order_other_01", false); o.Status != miniback.OrderPaying || len(pendingEvents(t, s)) != 0 {
		t.Fatalf("an undecryptable notification changed the order: %+v", o)
	}
	encryptWith = apiKey
	if err := notify(appid, mchid, 300); err != nil {
		t.Fatalf("the matching notification: %v", err)
	}
	if o, _ := s.Order(ctx, appid, "order_other_01", false); o.Status != miniback.OrderPaid {
		t.Fatalf("after the matching notification: %+v", o)
	}
}

// TestReconciliationSchedule: an order paying without a notification is
// queried 1, 5, 15 and 60 minutes after its prepay, then hourly, and not
// in between.
func TestReconciliationSchedule(t *testing.T) {
	w := newWorld(t)
	start := time.Now()
	var offset time.Duration
	s := w.instance(func() time.Time { return start.Add(offset) })
	ctx := context.Background()
	w.payingOrder(s, "order_sched_01", "100")
	path := "/v3/pay/transactions/out-trade-no/order_sched_01"
	for _, step := range []struct {
		at      time.Duration
		queries int
	}{
		{30 * time.Second, 0}, {61 * time.Second, 1}, {4 * time.Minute, 1}, {5*time.Minute + time.Second, 2},
		{14 * time.Minute, 2}, {15*time.Minute + time.Second, 3}, {59 * time.Minute, 3}, {60*time.Minute + time.Second, 4},
		{119 * time.Minute, 4}, {120*time.Minute + time.Second, 5}, {180*time.Minute + time.Second, 6},
	} {
		offset = step.at
		s.RunOnce(ctx)
		if n := w.sb.Calls(path); n != step.queries {
			t.Fatalf("%v after the prepay: %d queries, want %d", step.at, n, step.queries)
		}
	}
	if o, _ := s.Order(ctx, appid, "order_sched_01", false); o.Status != miniback.OrderPaying {
		t.Fatalf("an unpaid order after three hours: %+v", o)
	}
}

// TestQueryThenNotificationAppliedOnce: the payment is learnt from a query
// first (?sync=true) and its notification arrives after: the notification
// is answered 204 and changes nothing more.
func TestQueryThenNotificationAppliedOnce(t *testing.T) {
	w := newWorld(t)
	s := w.instance(nil)
	ctx := context.Background()
	w.paidOrder(s, "order_qfirst_1")
	n := w.waitNotice(1) // held back by the receiver
	o, err := s.Order(ctx, appid, "order_qfirst_1", true)
	if err != nil || o.Status != miniback.OrderPaid {
		t.Fatalf("after the query: %+v, %v", o, err)
	}
	if err := s.HandleNotification(ctx, appid, n.header, n.body); err != nil {
		t.Fatalf("the late notification: %v", err)
	}
	again, _ := s.Order(ctx, appid, "order_qfirst_1", false)
	if again.TransactionID != o.TransactionID || !again.UpdatedAt.Equal(o.UpdatedAt) {
		t.Fatalf("the late notification changed the order: %+v, was %+v", again, o)
	}
	if ev := pendingEvents(t, s); len(ev) != 1 || ev[0].Event != miniback.EventOrderPaid {
		t.Fatalf("events = %+v, want one order.paid", ev)
	}
}

// TestClientAgainstTheSandbox runs every endpoint of package wechatpay
// against the sandbox, in both key modes: prepay, query by out_trade_no and
// by transaction_id, refund, refund query, close, and the certificate
// download a client without the public key bootstraps from.
func TestClientAgainstTheSandbox(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pk := w.instance(nil).Apps[appid].Client
	certMode, err := wechatpay.NewClient(mchid, "MSERIAL", w.merchant, []byte(apiKey), wechatpay.WithBaseURL(w.base))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*wechatpay.Client{"public key": pk, "certificate": certMode} {
		no := "order_cli_" + strings.ReplaceAll(name, " ", "_")
		prepay, err := c.Prepay(ctx, wechatpay.PrepayRequest{AppID: appid, Description: "tea", OutTradeNo: no, NotifyURL: w.notify,
			Amount: wechatpay.Amount{Total: 300, Currency: "CNY"}, Payer: wechatpay.Payer{OpenID: w.user.OpenID}})
		if err != nil || prepay == "" {
			t.Fatalf("%s: prepay %q, %v", name, prepay, err)
		}
		if name == "certificate" && (!c.Verifier().HasCertificates() || w.sb.Calls("/v3/certificates") != 1) {
			t.Fatalf("certificate mode did not bootstrap from /v3/certificates (%d downloads)", w.sb.Calls("/v3/certificates"))
		}
		if tx, err := c.QueryByOutTradeNo(ctx, no); err != nil || tx.TradeState != wechatpay.TradeNotPay {
			t.Fatalf("%s: query %+v, %v", name, tx, err)
		}
		if _, err := w.sb.ConfirmPayment(appid, no, "SUCCESS"); err != nil {
			t.Fatal(err)
		}
		paid, err := c.QueryByOutTradeNo(ctx, no)
		if err != nil || paid.TradeState != wechatpay.TradeSuccess || paid.TransactionID == "" || paid.Amount.Total != 300 {
			t.Fatalf("%s: query after paying %+v, %v", name, paid, err)
		}
		byID, err := c.QueryByTransactionID(ctx, paid.TransactionID)
		if err != nil || byID.OutTradeNo != no || byID.TradeState != wechatpay.TradeSuccess {
			t.Fatalf("%s: query by transaction id %+v, %v", name, byID, err)
		}
		rf, err := c.CreateRefund(ctx, wechatpay.RefundRequest{OutTradeNo: no, OutRefundNo: no + "_r", NotifyURL: w.notify,
			Amount: wechatpay.RefundRequestAmount{Refund: 100, Total: 300, Currency: "CNY"}})
		if err != nil || rf.RefundID == "" {
			t.Fatalf("%s: refund %+v, %v", name, rf, err)
		}
		if got, err := c.QueryRefund(ctx, no+"_r"); err != nil || got.RefundID != rf.RefundID {
			t.Fatalf("%s: refund query %+v, %v", name, got, err)
		}
		if err := c.Close(ctx, no); err == nil {
			t.Fatalf("%s: closing a paid order succeeded", name)
		} else if e, ok := wechatpay.AsError(err); !ok || e.Code != wechatpay.CodeOrderPaid {
			t.Fatalf("%s: close of a paid order: %v", name, err)
		}
	}
}
