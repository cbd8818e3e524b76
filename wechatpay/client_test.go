package wechatpay

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakePay is a small WeChat Pay for this package's tests: it checks the
// merchant signature of every request and signs every answer with the
// platform key (the wechatpay-go test key, whose certificate is
// D7CE59D1F522D701), by the public key id when the request asks for it.
type fakePay struct {
	t        *testing.T
	merchant *rsa.PublicKey
	platform *rsa.PrivateKey
	certPEM  string
	apiKey   []byte
	pubKeyID string

	mu      sync.Mutex
	bodies  [][]byte
	answers []fakeAnswer // served in order, then the default
	unsign  bool
}

type fakeAnswer struct {
	status int
	body   string
}

func newFakePay(t *testing.T) (*fakePay, *httptest.Server, *rsa.PrivateKey) {
	_, platform, certs := loadVectors(t)
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePay{t: t, merchant: &merchant.PublicKey, platform: platform, certPEM: certs["D7CE59D1F522D701"],
		apiKey: []byte("0123456789abcdef0123456789abcdef"), pubKeyID: "PUB_KEY_ID_0000000000000024101100397200000006"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv, merchant
}

func (f *fakePay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err == nil {
		err = VerifySignature(f.merchant, RequestMessage(r.Method, r.URL.RequestURI(), a.Timestamp, a.NonceStr, body), a.Signature)
	}
	if err != nil || r.Header.Get("User-Agent") == "" || r.Header.Get("Accept") == "" {
		f.reply(w, r, 401, `{"code":"SIGN_ERROR","message":"bad signature"}`)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	var ans *fakeAnswer
	if len(f.answers) > 0 {
		ans, f.answers = &f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	if ans != nil {
		f.reply(w, r, ans.status, ans.body)
		return
	}
	switch {
	case r.URL.Path == "/v3/certificates":
		ct, _ := EncryptAEAD(f.apiKey, "3a584b49ed9b", "certificate", []byte(f.certPEM))
		f.reply(w, r, 200, `{"data":[{"serial_no":"D7CE59D1F522D701","effective_time":"2021-04-27T16:55:23+08:00","expire_time":"2031-04-25T16:55:23+08:00","encrypt_certificate":{"algorithm":"AEAD_AES_256_GCM","nonce":"3a584b49ed9b","associated_data":"certificate","ciphertext":"`+ct+`"}}]}`)
	case r.URL.Path == "/v3/pay/transactions/jsapi":
		f.reply(w, r, 200, `{"prepay_id":"wx201410272009395522657a690389285100"}`)
	case strings.HasSuffix(r.URL.Path, "/close"):
		f.reply(w, r, 204, "")
	default:
		f.reply(w, r, 404, `{"code":"ORDER_NOT_EXIST","message":"no such order"}`)
	}
}

func (f *fakePay) reply(w http.ResponseWriter, r *http.Request, status int, body string) {
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), NewNonce()
	serial := "D7CE59D1F522D701"
	if r.Header.Get("Wechatpay-Serial") == f.pubKeyID {
		serial = f.pubKeyID
	}
	if !f.unsign {
		sig, _ := Sign(f.platform, ResponseMessage(ts, nonce, []byte(body)))
		w.Header().Set("Wechatpay-Timestamp", ts)
		w.Header().Set("Wechatpay-Nonce", nonce)
		w.Header().Set("Wechatpay-Signature", sig)
		w.Header().Set("Wechatpay-Serial", serial)
	}
	w.Header().Set("Request-ID", "req-1")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newTestClient(t *testing.T, f *fakePay, srv *httptest.Server, merchant *rsa.PrivateKey, publicKey bool) *Client {
	opts := []Option{WithBaseURL(srv.URL), WithRetries(2, time.Millisecond)}
	if publicKey {
		opts = append(opts, WithPublicKey(f.pubKeyID, &f.platform.PublicKey))
	}
	c, err := NewClient("1900000109", "MERCHANTSERIAL01", merchant, f.apiKey, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientPrepayPublicKeyMode(t *testing.T) {
	f, srv, merchant := newFakePay(t)
	c := newTestClient(t, f, srv, merchant, true)
	id, err := c.Prepay(context.Background(), PrepayRequest{AppID: "wxd678efh567hg6787", Description: "d", OutTradeNo: "order_0001", NotifyURL: "https://x.test/n", Amount: Amount{Total: 100, Currency: "CNY"}, Payer: Payer{OpenID: "o1"}})
	if err != nil || id != "wx201410272009395522657a690389285100" {
		t.Fatalf("Prepay = %q, %v", id, err)
	}
	var sent PrepayRequest
	_ = json.Unmarshal(f.bodies[0], &sent)
	if sent.MchID != "1900000109" {
		t.Fatalf("mchid sent = %q", sent.MchID)
	}
	if err := c.Close(context.Background(), "order_0001"); err != nil {
		t.Fatalf("Close (204, empty body): %v", err)
	}
}

func TestClientUnsignedSuccessIsAnError(t *testing.T) {
	f, srv, merchant := newFakePay(t)
	c := newTestClient(t, f, srv, merchant, true)
	f.unsign = true
	_, err := c.Prepay(context.Background(), PrepayRequest{OutTradeNo: "order_0001"})
	if !errors.Is(err, ErrSignature) {
		t.Fatalf("unsigned 200: %v, want ErrSignature", err)
	}
	f.unsign = false
	f.answers = []fakeAnswer{{200, `{"prepay_id":"x"}`}}
	f.platform, _ = rsa.GenerateKey(rand.Reader, 2048) // answers now signed by someone else
	if _, err := c.Prepay(context.Background(), PrepayRequest{OutTradeNo: "order_0001"}); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrongly signed 200: %v, want ErrSignature", err)
	}
}

func TestClientRetriesWithSameBody(t *testing.T) {
	f, srv, merchant := newFakePay(t)
	c := newTestClient(t, f, srv, merchant, true)
	f.answers = []fakeAnswer{{500, `{"code":"SYSTEM_ERROR","message":"busy"}`}, {500, `{"code":"BANK_ERROR","message":"bank"}`}}
	if _, err := c.Prepay(context.Background(), PrepayRequest{OutTradeNo: "order_0002", Amount: Amount{Total: 1}}); err != nil {
		t.Fatal(err)
	}
	if len(f.bodies) != 3 || !bytes.Equal(f.bodies[0], f.bodies[1]) || !bytes.Equal(f.bodies[1], f.bodies[2]) {
		t.Fatalf("bodies = %q, want three identical", f.bodies)
	}
	f.answers = []fakeAnswer{{500, `{"code":"SYSTEM_ERROR","message":"busy"}`}, {500, `{"code":"SYSTEM_ERROR"}`}, {500, `{"code":"SYSTEM_ERROR"}`}}
	_, err := c.Prepay(context.Background(), PrepayRequest{OutTradeNo: "order_0002"})
	if e, ok := AsError(err); !ok || e.Code != CodeSystemError || !e.IsRetryable() {
		t.Fatalf("after retries: %v", err)
	}
}

func TestClientTypedErrors(t *testing.T) {
	f, srv, merchant := newFakePay(t)
	c := newTestClient(t, f, srv, merchant, true)
	cases := []struct {
		status int
		code   string
		check  func(*Error) bool
	}{
		{403, CodeOrderPaid, func(e *Error) bool { return !e.IsRetryable() }},
		{429, CodeFrequencyLimited, (*Error).IsRateLimited},
		{404, CodeOrderNotExist, (*Error).IsNotFound},
		{400, CodeParamError, func(e *Error) bool { return !e.IsRetryable() && !e.Unverified }},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			f.answers = []fakeAnswer{{tc.status, `{"code":"` + tc.code + `","message":"m"}`}}
			err := c.Close(context.Background(), "order_0003")
			e, ok := AsError(err)
			if !ok || e.Code != tc.code || e.StatusCode != tc.status || e.RequestID != "req-1" || !tc.check(e) {
				t.Fatalf("err = %#v", err)
			}
		})
	}
	if _, err := c.QueryByOutTradeNo(context.Background(), "nope_000"); err == nil {
		t.Fatal("query of an unknown order succeeded")
	}
}

func TestCertificateModeBootstrapAndRotation(t *testing.T) {
	f, srv, merchant := newFakePay(t)
	c := newTestClient(t, f, srv, merchant, false)
	// No key yet: the first answer's unknown serial triggers the download.
	if _, err := c.Prepay(context.Background(), PrepayRequest{OutTradeNo: "order_0004"}); err != nil {
		t.Fatal(err)
	}
	if !c.Verifier().HasCertificates() {
		t.Fatal("certificate not trusted after bootstrap")
	}
	// An unknown serial within the minute after that does not refetch;
	// after the minute it refetches once, then fails.
	unknown := func() error {
		return c.Verifier().Verify(context.Background(), Headers{Timestamp: strconv.FormatInt(time.Now().Unix(), 10), Nonce: "n", Signature: "AA==", Serial: "UNKNOWN"}, nil)
	}
	n := len(f.bodies)
	if err := unknown(); !errors.Is(err, ErrSignature) || len(f.bodies) != n {
		t.Fatalf("unknown serial: %v after %d downloads", err, len(f.bodies)-n)
	}
	c.Verifier().MinRefreshInterval = time.Nanosecond
	if err := unknown(); !errors.Is(err, ErrSignature) || len(f.bodies) != n+1 {
		t.Fatalf("unknown serial after the interval: %v after %d downloads", err, len(f.bodies)-n)
	}
}

func TestVerifierBothModesAtOnce(t *testing.T) {
	_, platform, _ := loadVectors(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	v := &Verifier{}
	v.AddCertificate("CERT01", &platform.PublicKey, time.Now().Add(time.Hour))
	v.AddPublicKey("PUB_KEY_ID_01", &other.PublicKey)
	body := []byte(`{"a":1}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	for serial, key := range map[string]*rsa.PrivateKey{"CERT01": platform, "PUB_KEY_ID_01": other} {
		sig, _ := Sign(key, ResponseMessage(ts, "n1", body))
		if err := v.Verify(context.Background(), Headers{Timestamp: ts, Nonce: "n1", Signature: sig, Serial: serial}, body); err != nil {
			t.Fatalf("%s: %v", serial, err)
		}
		wrong := "CERT01"
		if serial == wrong {
			wrong = "PUB_KEY_ID_01"
		}
		if err := v.Verify(context.Background(), Headers{Timestamp: ts, Nonce: "n1", Signature: sig, Serial: wrong}, body); !errors.Is(err, ErrSignature) {
			t.Fatalf("signed by %s, claimed %s: %v", serial, wrong, err)
		}
	}
	v.Now = func() time.Time { return time.Now().Add(2 * time.Hour) } // the certificate expired
	sig, _ := Sign(platform, ResponseMessage(ts, "n1", body))
	if err := v.Verify(context.Background(), Headers{Timestamp: ts, Nonce: "n1", Signature: sig, Serial: "CERT01"}, body); !errors.Is(err, ErrSignature) {
		t.Fatalf("expired certificate or stale timestamp accepted: %v", err)
	}
}

func TestParseAuthorization(t *testing.T) {
	good := `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1554208460",serial_no="S",signature="c2ln"`
	if a, err := ParseAuthorization(good); err != nil || a.Timestamp != 1554208460 || a.Signature != "c2ln" {
		t.Fatalf("good: %+v, %v", a, err)
	}
	reordered := `WECHATPAY2-SHA256-RSA2048 signature="c2ln", serial_no="S",timestamp="1554208460",nonce_str="n",mchid="1"`
	if _, err := ParseAuthorization(reordered); err != nil {
		t.Fatalf("reordered: %v", err)
	}
	bad := map[string]string{
		"scheme":       `Bearer mchid="1"`,
		"missing":      `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1",serial_no="S"`,
		"twice":        `WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="2",nonce_str="n",timestamp="1",serial_no="S",signature="s"`,
		"unquoted":     `WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",timestamp="1",serial_no="S",signature="s"`,
		"milliseconds": `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1554208460000",serial_no="S",signature="s"`,
		"unknown key":  `WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1",serial_no="S",signature="s",x="y"`,
		"empty":        ``,
	}
	for name, h := range bad {
		if _, err := ParseAuthorization(h); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParsePrivateKeyRefusesOtherKeys(t *testing.T) {
	if _, err := ParsePrivateKey([]byte("not a key")); err == nil {
		t.Fatal("garbage accepted")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := ParsePrivateKey(pemPKCS8(t, small)); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("RSA 1024: %v", err)
	}
	if _, err := NewClient("1", "S", small, make([]byte, 32)); err == nil {
		t.Fatal("NewClient took an RSA 1024 key")
	}
	big, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := NewClient("1", "S", big, make([]byte, 16)); err == nil {
		t.Fatal("NewClient took a 16-byte APIv3 key")
	}
}

// TestUnknownSerialRefreshIsSingleFlight: verifications that meet an
// unknown serial while a certificate refresh runs wait for it and then
// verify, instead of starting refreshes of their own or failing.
func TestUnknownSerialRefreshIsSingleFlight(t *testing.T) {
	_, platform, _ := loadVectors(t)
	release := make(chan struct{})
	var calls atomic.Int32
	v := &Verifier{}
	v.Refresh = func(context.Context) error {
		calls.Add(1)
		<-release
		v.AddCertificate("NEWCERT01", &platform.PublicKey, time.Now().Add(time.Hour))
		return nil
	}
	body := []byte(`{"a":1}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig, _ := Sign(platform, ResponseMessage(ts, "n1", body))
	h := Headers{Timestamp: ts, Nonce: "n1", Signature: sig, Serial: "NEWCERT01"}
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- v.Verify(context.Background(), h, body) }()
	}
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	// Hold the refresh while the others arrive; any that come later find
	// the key already there, so the outcome does not depend on timing.
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a verification waiting on the refresh: %v", err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d refreshes, want 1", c)
	}
}
