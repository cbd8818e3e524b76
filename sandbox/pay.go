package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PayApp is an app's WeChat Pay merchant as the sandbox knows it. MchID,
// APIv3Key (32 bytes) and MerchantKey (the public half of the merchant's
// API key, which checks request signatures) are required for its pay
// routes to answer; an app whose MerchantKey is nil gets a generated one,
// returned by Server.MerchantKey. MerchantSerial, when set, must match the
// serial_no of requests. NotifyWith chooses the key that signs its
// notifications: "public_key" (default) or "certificate".
type PayApp struct {
	MchID          string
	APIv3Key       string
	MerchantKey    *rsa.PublicKey
	MerchantSerial string
	NotifyWith     string
	// WebhookSecret is the backend's pay.webhook_secret, with which the
	// webhook receiver (POST /sandbox/pay/webhook) checks signatures.
	WebhookSecret string
}

// payWorld is everything WeChat Pay keeps. It has its own lock.
type payWorld struct {
	once     sync.Once
	platform *payPlatform
	err      error

	mu            sync.Mutex
	merchantKeys  map[string]*rsa.PrivateKey // generated, by appid
	orders        map[string]*payOrder       // mchid+"/"+out_trade_no
	byTransaction map[string]*payOrder
	refunds       map[string]*payRefund // mchid+"/"+out_refund_no
	faults        []*payFaultState
	notifyFaults  []string
	dropNotify    int
	deliveries    []Delivery
	webhooks      []WebhookDelivery // received by POST /sandbox/pay/webhook
}

type payOrder struct {
	params        prepayIn // as first given; later prepays must match
	total         int64
	prepayID      string
	prepayAt      time.Time
	state         string // NOTPAY, SUCCESS, REFUND, CLOSED
	transactionID string
	successTime   time.Time
	refunded      int64 // succeeded or processing
}

type payRefund struct {
	mchid, appid, outRefundNo, refundID, outTradeNo, transactionID string
	reason, notifyURL, status                                      string
	amount, total                                                  int64
	created, succeeded                                             time.Time
}

var (
	outTradeNoPattern  = regexp.MustCompile(`^[0-9A-Za-z_\-|*]{6,32}$`)
	outRefundNoPattern = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)
)

// payError is a WeChat Pay error answer: status and {"code","message"}.
type payError struct {
	Status  int
	Code    string
	Message string
}

func (e *payError) Error() string {
	return fmt.Sprintf("wechat pay %d %s: %s", e.Status, e.Code, e.Message)
}

func payErr(status int, code, format string, args ...any) error {
	return &payError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) platform() (*payPlatform, error) {
	s.pay.once.Do(func() { s.pay.platform, s.pay.err = newPayPlatform(s.cfg.PayPlatformKey, s.now()) })
	return s.pay.platform, s.pay.err
}

// PayPublicKey returns the sandbox's WeChat Pay public key, its id
// (PUB_KEY_ID_…) and, for certificate mode, its platform certificate
// serial: what a merchant would copy from the console.
func (s *Server) PayPublicKey() (pub *rsa.PublicKey, keyID, certSerial string, err error) {
	p, err := s.platform()
	if err != nil {
		return nil, "", "", err
	}
	return &p.key.PublicKey, p.publicKeyID, p.certSerial, nil
}

// MerchantKey returns the merchant key of appid: the configured one's
// private half is unknown to the sandbox, so it returns nil for those and
// the generated key for apps configured without one.
func (s *Server) MerchantKey(appid string) *rsa.PrivateKey {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	return s.pay.merchantKeys[appid]
}

// merchant returns the app of mchid (the first configured with it) and
// the public key that checks its signatures.
func (s *Server) merchant(mchid string) (*App, *rsa.PublicKey) {
	s.mu.Lock()
	var app *App
	for _, a := range s.apps {
		if a.Pay != nil && a.Pay.MchID == mchid && (app == nil || a.AppID < app.AppID) {
			app = &a.App
		}
	}
	s.mu.Unlock()
	if app == nil {
		return nil, nil
	}
	if app.Pay.MerchantKey != nil {
		return app, app.Pay.MerchantKey
	}
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	k := s.pay.merchantKeys[app.AppID]
	if k == nil {
		k, _ = rsa.GenerateKey(rand.Reader, 2048)
		s.pay.merchantKeys[app.AppID] = k
	}
	return app, &k.PublicKey
}

// payHandler checks what WeChat Pay checks of every request (headers, the
// 5-minute rule, the merchant signature over the raw body), applies any
// injected pay fault, runs h and signs whatever it answers.
func (s *Server) payHandler(method string, h func(r *http.Request, app *App, body []byte) (int, any, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
		status, out, err := s.payServe(method, r, body, h)
		var pe *payError
		if errors.As(err, &pe) {
			status, out = pe.Status, payErrorOut{Code: pe.Code, Message: pe.Message}
		} else if err != nil {
			return err
		}
		return s.writeSigned(w, r, status, out)
	}
}

func (s *Server) payServe(method string, r *http.Request, body []byte, h func(*http.Request, *App, []byte) (int, any, error)) (int, any, error) {
	if r.Method != method {
		return 0, nil, payErr(405, "INVALID_REQUEST", "method %s not allowed", r.Method)
	}
	if r.Header.Get("Accept") == "" || r.Header.Get("User-Agent") == "" {
		return 0, nil, payErr(400, "INVALID_REQUEST", "Http头缺少Accept或User-Agent")
	}
	if method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return 0, nil, payErr(400, "INVALID_REQUEST", "Content-Type must be application/json")
	}
	a, err := parseMerchantAuth(r.Header.Get("Authorization"))
	if err != nil {
		return 0, nil, payErr(401, "SIGN_ERROR", "%s", err.Error())
	}
	if d := s.now().Sub(time.Unix(a.timestamp, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return 0, nil, payErr(401, "SIGN_ERROR", "Http头Authorization中的timestamp与发起请求的时间不得超过5分钟")
	}
	app, pub := s.merchant(a.mchid)
	if app == nil {
		return 0, nil, payErr(400, "MCH_NOT_EXISTS", "商户号不存在")
	}
	msg := r.Method + "\n" + r.URL.RequestURI() + "\n" + strconv.FormatInt(a.timestamp, 10) + "\n" + a.nonce + "\n" + string(body) + "\n"
	if (app.Pay.MerchantSerial != "" && a.serial != app.Pay.MerchantSerial) || !rsaVerify(pub, msg, a.signature) {
		return 0, nil, payErr(401, "SIGN_ERROR", "错误的签名，验签失败")
	}
	if f := s.takePayFault(r.URL.Path); f != nil {
		if err := s.actPayFault(r, f); err != nil {
			return 0, nil, err
		}
	}
	return h(r, app, body)
}

// writeSigned answers out (nil: no body) signed with the platform key: by
// the public key id when the request named it in Wechatpay-Serial, else by
// the certificate, as WeChat Pay does during the migration.
func (s *Server) writeSigned(w http.ResponseWriter, r *http.Request, status int, out any) error {
	p, err := s.platform()
	if err != nil {
		return err
	}
	var body []byte
	if out != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	serial := p.certSerial
	if r.Header.Get("Wechatpay-Serial") == p.publicKeyID {
		serial = p.publicKeyID
	}
	ts, nonce := strconv.FormatInt(s.now().Unix(), 10), randAlnum(32)
	h := w.Header()
	h.Set("Request-ID", newRID())
	h.Set("Wechatpay-Timestamp", ts)
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", serial)
	h.Set("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	h.Set("Wechatpay-Signature", rsaSign(p.key, ts+"\n"+nonce+"\n"+string(body)+"\n"))
	if body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// payRoutes registers the WeChat Pay API and its control routes.
func (s *Server) payRoutes(handle func(string, handlerFunc)) {
	handle("/v3/pay/transactions/jsapi", s.payHandler(http.MethodPost, s.handlePrepay))
	handle("/v3/pay/transactions/out-trade-no/", s.handleTradeByNo)
	handle("/v3/pay/transactions/id/", s.payHandler(http.MethodGet, s.handleQueryByID))
	handle("/v3/refund/domestic/refunds", s.payHandler(http.MethodPost, s.handleRefund))
	handle("/v3/refund/domestic/refunds/", s.payHandler(http.MethodGet, s.handleQueryRefund))
	handle("/v3/certificates", s.payHandler(http.MethodGet, s.handleCertificates))
	handle("/v3/", s.payHandler(http.MethodGet, func(*http.Request, *App, []byte) (int, any, error) {
		return 0, nil, payErr(404, "RESOURCE_NOT_EXISTS", "sandbox: no such API")
	}))
	handle("/sandbox/pay/confirm", s.handleControlPayConfirm)
	handle("/sandbox/pay/refund-result", s.handleControlRefundResult)
	handle("/sandbox/pay/faults", s.handleControlPayFaults)
	handle("/sandbox/pay/notifications", s.handleControlNotifications)
	handle("/sandbox/pay/webhook", s.handleControlWebhook)
}

// handleTradeByNo serves query (GET …/out-trade-no/{no}) and close
// (POST …/out-trade-no/{no}/close).
func (s *Server) handleTradeByNo(w http.ResponseWriter, r *http.Request) error {
	if strings.HasSuffix(r.URL.Path, "/close") {
		return s.payHandler(http.MethodPost, s.handleClose)(w, r)
	}
	return s.payHandler(http.MethodGet, s.handleQueryByNo)(w, r)
}

// SetPayApp gives appid the WeChat Pay merchant p (nil removes it), for a
// backend that learns its merchant key after the sandbox started. It is
// safe for concurrent use.
func (s *Server) SetPayApp(appid string, p *PayApp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.apps[appid]; ok {
		a.Pay = p
	}
}

// TradeState returns WeChat Pay's state of an order ("NOTPAY", "SUCCESS",
// "REFUND", "CLOSED"), or "" when it has none; and RefundStatus that of a
// refund. Tests use them to see what WeChat Pay did behind a lost answer.
func (s *Server) TradeState(mchid, outTradeNo string) string {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	if o := s.pay.orders[mchid+"/"+outTradeNo]; o != nil {
		return o.state
	}
	return ""
}

// RefundStatus: see TradeState.
func (s *Server) RefundStatus(mchid, outRefundNo string) string {
	s.pay.mu.Lock()
	defer s.pay.mu.Unlock()
	if r := s.pay.refunds[mchid+"/"+outRefundNo]; r != nil {
		return r.status
	}
	return ""
}
